// Helpers for scripts/check-docker.sh that need npm packages (installed by that
// script into target/docker-check/node, found through NODE_PATH):
//
//   node grafana-tools.cjs schemas OUT_DIR PANEL_TYPE...
//       JSON Schemas generated from @grafana/schema's TypeScript types (Grafana's
//       own, generated from its CUE schema): the dashboard model (dashboard.json),
//       and for each panel type its Options (<type>.options.json) and, where the
//       plugin has one, its FieldConfig (<type>.fieldconfig.json).
//   node grafana-tools.cjs logql
//       Reads a JSON list of LogQL strings on stdin and parses each with Grafana's
//       own LogQL grammar (@grafana/lezer-logql); prints a JSON list with, for each,
//       null or the offset of the first syntax error.
'use strict';

const fs = require('fs');
const path = require('path');

function schemas(outDir, panelTypes) {
  const tsj = require('ts-json-schema-generator');
  const root = path.dirname(require.resolve('@grafana/schema/package.json'));
  const raw = path.join(root, 'dist', 'types', 'raw');
  const generate = (file, type) =>
    tsj
      .createGenerator({ path: file, type, skipTypeCheck: true, additionalProperties: false })
      .createSchema(type);
  fs.mkdirSync(outDir, { recursive: true });
  const write = (name, schema) =>
    fs.writeFileSync(path.join(outDir, name), JSON.stringify(schema, null, 1));
  write('dashboard.json', generate(path.join(raw, 'dashboard', 'x', 'types.gen.d.ts'), 'Dashboard'));
  for (const type of panelTypes) {
    const file = path.join(raw, 'composable', type, 'panelcfg', 'x', 'types.gen.d.ts');
    if (!fs.existsSync(file)) {
      throw new Error(`@grafana/schema has no panel configuration types for "${type}"`);
    }
    const source = fs.readFileSync(file, 'utf8');
    write(`${type}.options.json`, generate(file, 'Options'));
    if (/export interface FieldConfig\b/.test(source)) {
      write(`${type}.fieldconfig.json`, generate(file, 'FieldConfig'));
    }
  }
}

function logql() {
  const { parser } = require('@grafana/lezer-logql');
  const queries = JSON.parse(fs.readFileSync(0, 'utf8'));
  const results = queries.map((query) => {
    let errorAt = null;
    parser.parse(query).iterate({
      enter: (node) => {
        if (errorAt === null && node.type.isError) errorAt = node.from;
      },
    });
    return errorAt;
  });
  process.stdout.write(JSON.stringify(results));
}

const [command, ...args] = process.argv.slice(2);
if (command === 'schemas') {
  schemas(args[0], args.slice(1));
} else if (command === 'logql') {
  logql();
} else {
  console.error('usage: grafana-tools.cjs schemas OUT_DIR PANEL_TYPE... | logql');
  process.exit(2);
}
