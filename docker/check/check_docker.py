"""Static checks of docker/: run by scripts/check-docker.sh (`make docker-check`).

No Docker engine is needed or used. What is checked, and against what:

- compose.yml: interpolated the way Compose does (${VAR:-default}, $$, ...), then
  validated against the Compose Specification's JSON Schema (the copy vendored by
  check-jsonschema); then what the schema cannot see: bind-mounted files exist,
  named volumes and depends_on targets are declared, scalable services have no
  container_name or published ports, the Kiln services run real subcommands and
  set only variables Kiln reads (src/config.rs).
- prometheus.yml: (`promtool check config` runs in the shell script) every scrape
  target names a compose service, on the port that service listens on.
- Grafana: provisioning files; the dashboard against JSON Schemas generated from
  Grafana's own types (@grafana/schema), panel by panel for the options of each
  panel plugin; unique panel ids, no overlapping panels, every data source uid a
  provisioned one; every PromQL expression parsed by `promtool check rules`; every
  LogQL expression parsed with Grafana's LogQL grammar; every kiln_* metric and
  label one that Kiln exposes, and every such metric shown somewhere.
- loki.yml, promtail.yml: parse, and agree with compose and Grafana on names and ports
  (no Loki or Promtail binary is obtainable from the registries this runs with).
- Dockerfile: every COPY source exists and is not excluded by
  Dockerfile.dockerignore (hadolint runs in the shell script).

Usage: check_docker.py REPO_ROOT SCHEMA_DIR (SCHEMA_DIR from grafana-tools.cjs).
Prints one line per check; exits 1 if any failed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import jsonschema
from ruamel.yaml import YAML

# The metrics Kiln exposes: name -> (type, labels). Keep in step with Kiln's metrics
# module. Prometheus adds `instance` and `job` to every series.
METRICS: dict[str, tuple[str, set[str]]] = {
    "kiln_http_requests_total": ("counter", {"method", "route", "status"}),
    "kiln_http_request_duration_seconds": ("histogram", {"method", "route"}),
    "kiln_uploads_total": ("counter", set()),
    "kiln_upload_bytes_total": ("counter", set()),
    "kiln_jobs_enqueued_total": ("counter", {"processor"}),
    "kiln_jobs_started_total": ("counter", {"processor"}),
    "kiln_jobs_finished_total": ("counter", {"processor", "outcome"}),
    "kiln_job_duration_seconds": ("histogram", {"processor"}),
    "kiln_job_queue_wait_seconds": ("histogram", {"processor"}),
    "kiln_queue_length": ("gauge", set()),
    "kiln_queue_pending": ("gauge", set()),
    "kiln_queue_oldest_pending_age_seconds": ("gauge", set()),
    "kiln_jobs": ("gauge", {"status"}),
    "kiln_processor_pool_size": ("gauge", set()),
    "kiln_processor_pool_busy": ("gauge", set()),
    "kiln_actor_restarts_total": ("counter", {"actor"}),
    "kiln_storage_operation_duration_seconds": ("histogram", {"operation"}),
    "kiln_db_operation_duration_seconds": ("histogram", {"operation"}),
    "kiln_storage_operation_errors_total": ("counter", {"operation"}),
    "kiln_db_operation_errors_total": ("counter", {"operation"}),
}
# Series Prometheus makes itself that the dashboard may use.
OTHER_METRICS = {"up": ("gauge", set())}
TARGET_LABELS = {"instance", "job"}

# What Grafana substitutes in a query, for parsing: built-ins and the dashboard's
# own variables get a value of the right shape.
GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "__auto": "1m",
    "__interval_ms": "60000",
    "__range_s": "3600",
}

KILN_SERVICES = ("migrate", "api", "worker")


class Checks:
    def __init__(self) -> None:
        self.failed = 0
        self.passed = 0

    def result(self, name: str, problems: list[str], detail: str = "") -> None:
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for problem in problems:
                print(f"       - {problem}")
        else:
            self.passed += 1
            print(f"ok   {name}{f' ({detail})' if detail else ''}")

    def note(self, text: str) -> None:
        print(f"note {text}")


def load_yaml(path: Path):
    # YAML 1.2 (as Compose's and the Go tools' parsers read it: `no` is a string)
    # with merge keys (`<<: *anchor`).
    yaml = YAML(typ="safe", pure=True)
    with path.open() as f:
        return yaml.load(f)


# ------------------------------------------------------------------ interpolation
class InterpolationError(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d},
    ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a}; defaults may nest ${...}."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            depth, j = 1, i + 2
            while j < len(text) and depth:
                if text[j] == "{" and text[j - 1] == "$":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                j += 1
            if depth:
                raise InterpolationError(f"unclosed ${{ in {text!r}")
            out.append(_substitute(text[i + 2 : j - 1], env))
            i = j
        else:
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i + 1 :])
            if not m:
                raise InterpolationError(f"a lone $ in {text!r} (write $$ for a literal $)")
            out.append(env.get(m.group(0), ""))
            i += 1 + len(m.group(0))
    return "".join(out)


def _substitute(body: str, env: dict[str, str]) -> str:
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$", body, re.S)
    if not m:
        raise InterpolationError(f"invalid substitution ${{{body}}}")
    name, op, arg = m.group(1), m.group(2), m.group(3) or ""
    value = env.get(name)
    unset_or_empty = not value
    missing = unset_or_empty if op and op.startswith(":") else value is None
    if op in (":-", "-"):
        return interpolate(arg, env) if missing else value
    if op in (":?", "?"):
        if missing:
            raise InterpolationError(f"{name} is required: {arg}")
        return value
    if op in (":+", "+"):
        return "" if missing else interpolate(arg, env)
    return value or ""


def interpolate_tree(node, env: dict[str, str]):
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(v, env) for v in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


# ------------------------------------------------------------------ helpers
def schema_error(error: jsonschema.ValidationError, where: str) -> str:
    """One line per error; for anyOf/oneOf (a panel is a Panel or a RowPanel) the
    most relevant alternative's error rather than the whole instance."""
    if error.context:
        error = jsonschema.exceptions.best_match(error.context)
    path = "/".join(map(str, error.absolute_path))
    return f"{where}/{path}: {error.message[:200]}"


def grafana_vars(expr: str, dashboard: dict) -> str:
    """Replaces $name, ${name} and ${name:format} as Grafana would, with the
    built-ins above and each dashboard variable's current value."""
    values = dict(GRAFANA_BUILTINS)
    for var in dashboard.get("templating", {}).get("list", []):
        current = (var.get("current") or {}).get("value", "")
        if isinstance(current, list):
            current = "|".join(current) if len(current) != 1 else current[0]
            current = f"({current})" if "|" in current else current
        values[var["name"]] = str(current)

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(name)
        return values[name]

    return re.sub(r"\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)", repl, expr)


def all_panels(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", []) if panel.get("type") == "row" else ()


def host_port(url_or_target: str) -> tuple[str, int | None]:
    m = re.match(r"^(?:[a-z]+://)?([^/:]+)(?::(\d+))?", url_or_target)
    assert m, url_or_target
    return m.group(1), int(m.group(2)) if m.group(2) else None


def service_ports(service: dict) -> set[int]:
    """Ports a service listens on inside the network, as far as compose says."""
    ports: set[int] = set()
    for entry in service.get("expose", []) or []:
        ports.add(int(str(entry).split("/")[0]))
    for entry in service.get("ports", []) or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


# ------------------------------------------------------------------ compose
def check_compose(c: Checks, root: Path, docker: Path) -> tuple[dict, dict]:
    raw = load_yaml(docker / "compose.yml")
    try:
        compose = interpolate_tree(raw, {})
        # Again with every variable set, which takes the other branch of each
        # substitution (${VAR:+...}, ${VAR:?...}).
        names = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", (docker / "compose.yml").read_text())
        interpolate_tree(raw, {name: "x" for name in names})
        problems = []
    except InterpolationError as e:
        compose, problems = {}, [str(e)]
    c.result("compose.yml: parses as YAML and interpolates", problems)
    if problems:
        return {}, {}

    schema_text = (
        resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    ).read_text()
    schema = json.loads(schema_text)
    validator = jsonschema.validators.validator_for(schema)(schema)
    c.result(
        "compose.yml: valid against the Compose Specification JSON Schema",
        [schema_error(e, "compose.yml") for e in validator.iter_errors(compose)],
        f"{schema.get('$id', 'compose-spec')}, vendored by check-jsonschema",
    )

    services: dict = compose.get("services", {})
    declared_volumes = set((compose.get("volumes") or {}).keys())
    problems = []
    for name, svc in services.items():
        for vol in svc.get("volumes", []) or []:
            source = vol.get("source") if isinstance(vol, dict) else str(vol).split(":")[0]
            if not source:
                continue
            if source.startswith((".", "/")):
                if source.startswith("/"):
                    if source != "/var/run/docker.sock":
                        problems.append(f"{name}: absolute bind mount {source} (only the Docker socket is expected)")
                    continue
                path = (docker / source).resolve()
                if not path.exists():
                    problems.append(f"{name}: bind-mounts {source}, which does not exist ({path})")
                elif root not in path.parents and path != root:
                    problems.append(f"{name}: bind-mounts {source}, outside the repository")
            elif source not in declared_volumes:
                problems.append(f"{name}: named volume {source} is not declared under volumes:")
        for dep in svc.get("depends_on", {}) or {}:
            if dep not in services:
                problems.append(f"{name}: depends_on {dep}, which is no service")
        build = svc.get("build")
        if isinstance(build, dict):
            context = (docker / build.get("context", ".")).resolve()
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                problems.append(f"{name}: build.dockerfile {build.get('dockerfile')} not found in {context}")
    c.result("compose.yml: mounted files, volumes, depends_on and build paths exist", problems)

    problems = []
    worker = services.get("worker", {})
    for name in ("api", "worker"):
        if "container_name" in services.get(name, {}):
            problems.append(f"{name}: container_name prevents --scale")
    if worker.get("ports"):
        problems.append("worker: published ports collide when scaled (use expose)")
    if (worker.get("deploy") or {}).get("replicas", 1) < 2:
        problems.append("worker: deploy.replicas should start more than one worker")
    for name in KILN_SERVICES:
        if name not in services:
            problems.append(f"service {name} is missing")
    c.result("compose.yml: worker is scalable (no container_name, no published ports)", problems)

    # The Kiln services run real subcommands and set only variables Kiln reads.
    cli = (root / "src" / "cli" / "mod.rs").read_text()
    enum = re.search(r"pub enum Command \{(.*?)\n\}", cli, re.S)
    subcommands = {v.lower() for v in re.findall(r"^\s{4}([A-Z][A-Za-z]+)\b", enum.group(1), re.M)} if enum else set()
    source_text = "\n".join(p.read_text() for p in (root / "src").rglob("*.rs"))
    problems = []
    for name in KILN_SERVICES:
        svc = services.get(name, {})
        command = svc.get("command") or ["serve"]
        if command[0] not in subcommands:
            problems.append(f"{name}: `kiln {command[0]}` is not a subcommand in src/cli/mod.rs ({sorted(subcommands)})")
        for var in (svc.get("environment") or {}):
            if f'"{var}"' in source_text:
                continue
            problems.append(f"{name}: sets {var}, which Kiln does not read (not in src/)")
    c.result("compose.yml: Kiln services run kiln subcommands with variables Kiln reads", problems)
    return compose, services


# ------------------------------------------------------------------ prometheus
def check_prometheus(c: Checks, docker: Path, services: dict) -> None:
    config = load_yaml(docker / "prometheus" / "prometheus.yml")
    problems = []
    jobs = {job["job_name"]: job for job in config.get("scrape_configs", [])}
    for job_name, job in jobs.items():
        targets = []
        for static in job.get("static_configs", []):
            targets += [host_port(t) for t in static.get("targets", [])]
        for dns in job.get("dns_sd_configs", []):
            if dns.get("type", "SRV") != "A":
                problems.append(f"{job_name}: dns_sd type {dns.get('type')}: Docker's DNS answers A records")
            targets += [(n, dns.get("port")) for n in dns.get("names", [])]
        for host, port in targets:
            if host == "localhost" and job_name == "prometheus":
                continue
            if host not in services:
                problems.append(f"{job_name}: target {host} is no compose service")
                continue
            svc = services[host]
            env = svc.get("environment") or {}
            if host == "worker":  # its HTTP is the ops listener only
                listens = {int(env["OPS_PORT"])} if "OPS_PORT" in env else set()
            elif host in KILN_SERVICES:
                listens = {int(env.get("PORT", 8080))}
            else:
                listens = service_ports(svc)
            if port not in listens:
                problems.append(f"{job_name}: scrapes {host}:{port}, but {host} listens on {sorted(listens)}")
    for required in ("api", "worker"):
        if required not in jobs:
            problems.append(f"no scrape job named {required}")
    if "worker" in jobs and not jobs["worker"].get("dns_sd_configs"):
        problems.append("worker: must be discovered with dns_sd_configs so that --scale works")
    c.result("prometheus.yml: targets are compose services on the ports they serve", problems)


# ------------------------------------------------------------------ loki, promtail
def check_logs(c: Checks, docker: Path, compose: dict, services: dict, logql: list[tuple[str, str]]) -> None:
    loki = load_yaml(docker / "loki" / "loki.yml")
    promtail = load_yaml(docker / "promtail" / "promtail.yml")
    problems = []
    for key in ("server", "schema_config", "common"):
        if key not in loki:
            problems.append(f"loki.yml: no {key} section")
    loki_port = loki.get("server", {}).get("http_listen_port", 3100)
    if "loki" not in services:
        problems.append("no loki service in compose.yml")
    for client in promtail.get("clients", []):
        host, port = host_port(client["url"])
        if host not in services:
            problems.append(f"promtail pushes to {host}, which is no compose service")
        if host == "loki" and port != loki_port:
            problems.append(f"promtail pushes to port {port}, Loki listens on {loki_port}")
    positions = promtail.get("positions", {}).get("filename", "")
    mounts = [str(v).split(":")[1] for v in services.get("promtail", {}).get("volumes", [])]
    if not any(positions.startswith(m.rstrip("/") + "/") for m in mounts):
        problems.append(f"promtail positions file {positions} is not on a mounted volume (lost on restart)")
    for job in promtail.get("scrape_configs", []):
        for sd in job.get("docker_sd_configs", []):
            for f in sd.get("filters", []):
                for value in f.get("values", []):
                    if value.startswith("com.docker.compose.project=") and value.split("=", 1)[1] != compose.get("name"):
                        problems.append(f"promtail selects project {value}, compose.yml is named {compose.get('name')}")
            if sd.get("host") != "unix:///var/run/docker.sock":
                problems.append("promtail: docker_sd_configs host is not the mounted socket")
        for stage in job.get("pipeline_stages", []):
            if "match" in stage:
                logql.append(("promtail.yml match selector", stage["match"]["selector"]))
    for loki_url in [ds.get("url") for ds in load_datasources(docker) if ds.get("type") == "loki"]:
        host, port = host_port(loki_url)
        if (host, port) != ("loki", loki_port):
            problems.append(f"Grafana's Loki data source points at {loki_url}, Loki is loki:{loki_port}")
    c.result("loki.yml, promtail.yml: parse; agree with compose and Grafana on names and ports", problems)


# ------------------------------------------------------------------ grafana
def load_datasources(docker: Path) -> list[dict]:
    out = []
    for path in sorted((docker / "grafana" / "provisioning" / "datasources").glob("*.y*ml")):
        out += load_yaml(path).get("datasources", [])
    return out


def check_grafana(c: Checks, root: Path, docker: Path, services: dict, schema_dir: Path,
                  promtool: str, logql: list[tuple[str, str]]) -> None:
    problems = []
    datasources = load_datasources(docker)
    by_uid = {}
    for ds in datasources:
        for key in ("name", "type", "uid", "url", "access"):
            if key not in ds:
                problems.append(f"data source {ds.get('name')}: no {key}")
        if ds.get("uid") in by_uid:
            problems.append(f"data source uid {ds.get('uid')} twice")
        by_uid[ds.get("uid")] = ds
        host, _ = host_port(ds.get("url", ""))
        if host not in services:
            problems.append(f"data source {ds.get('name')}: {host} is no compose service")
    if sum(1 for ds in datasources if ds.get("isDefault")) != 1:
        problems.append("exactly one data source should be the default")

    grafana = services.get("grafana", {})
    mounts = {}
    for vol in grafana.get("volumes", []):
        parts = str(vol).split(":")
        mounts[parts[1]] = parts[0]
    dashboard_files = []
    for path in sorted((docker / "grafana" / "provisioning" / "dashboards").glob("*.y*ml")):
        for provider in load_yaml(path).get("providers", []):
            target = provider.get("options", {}).get("path", "")
            source = mounts.get(target)
            if source is None:
                problems.append(f"dashboard provider {provider.get('name')}: {target} is not mounted into grafana")
                continue
            dashboard_files += sorted((docker / source).glob("*.json"))
    home = (grafana.get("environment") or {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        directory, _, file = home.rpartition("/")
        if directory not in mounts or not (docker / mounts[directory] / file).is_file():
            problems.append(f"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH {home} is no mounted file")
    if not dashboard_files:
        problems.append("no dashboard JSON is provisioned")
    c.result("grafana provisioning: data sources and dashboard provider match compose mounts", problems,
             f"data sources {sorted(by_uid)}")

    for path in dashboard_files:
        check_dashboard(c, root, path, by_uid, schema_dir, promtool, logql)


def check_dashboard(c: Checks, root: Path, path: Path, datasources: dict, schema_dir: Path,
                    promtool: str, logql: list[tuple[str, str]]) -> None:
    label = path.relative_to(root)
    try:
        dashboard = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        c.result(f"{label}: valid JSON", [str(e)])
        return

    def schema_errors(instance, schema_file: Path, where: str) -> list[str]:
        schema = json.loads(schema_file.read_text())
        validator = jsonschema.Draft7Validator(schema)
        return [schema_error(e, where) for e in validator.iter_errors(instance)]

    problems = schema_errors(dashboard, schema_dir / "dashboard.json", "dashboard")
    panels = list(all_panels(dashboard))
    for panel in panels:
        kind = panel.get("type")
        if kind == "row":
            continue
        where = f"panel {panel.get('id')} ({panel.get('title')})"
        options_schema = schema_dir / f"{kind}.options.json"
        if not options_schema.is_file():
            problems.append(f"{where}: no schema for panel type {kind}")
            continue
        problems += schema_errors(panel.get("options", {}), options_schema, f"{where} options")
        custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
        fc_schema = schema_dir / f"{kind}.fieldconfig.json"
        if custom is not None and fc_schema.is_file():
            problems += schema_errors(custom, fc_schema, f"{where} fieldConfig.defaults.custom")
    c.result(f"{label}: valid against Grafana's dashboard and panel schemas", problems,
             "generated from @grafana/schema")

    problems = []
    ids = [p.get("id") for p in panels]
    for pid in sorted({i for i in ids if ids.count(i) > 1}, key=str):
        problems.append(f"panel id {pid} is used {ids.count(pid)} times")
    if None in ids:
        problems.append("a panel has no id")
    boxes = [(p.get("id"), p["gridPos"]) for p in panels if "gridPos" in p]
    for n, (a, ga) in enumerate(boxes):
        if ga["x"] + ga["w"] > 24:
            problems.append(f"panel {a} is wider than the 24-column grid")
        for b, gb in boxes[n + 1 :]:
            if (ga["x"] < gb["x"] + gb["w"] and gb["x"] < ga["x"] + ga["w"]
                    and ga["y"] < gb["y"] + gb["h"] and gb["y"] < ga["y"] + ga["h"]):
                problems.append(f"panels {a} and {b} overlap")
    c.result(f"{label}: unique panel ids, no overlapping panels", problems, f"{len(panels)} panels")

    # Data sources, and the queries they run.
    problems, promql, used = [], [], set()
    for panel in panels:
        if panel.get("type") == "row":
            continue
        refs = [("panel", panel.get("datasource"))] + [(t.get("refId"), t.get("datasource")) for t in panel.get("targets", [])]
        for where, ref in refs:
            if not isinstance(ref, dict) or ref.get("uid") not in datasources:
                problems.append(f"panel {panel.get('id')} {where}: data source {ref} is not provisioned")
            elif ref.get("type") != datasources[ref["uid"]].get("type"):
                problems.append(f"panel {panel.get('id')} {where}: type {ref.get('type')} but uid {ref['uid']} is {datasources[ref['uid']].get('type')}")
        for target in panel.get("targets", []):
            ref = target.get("datasource") or panel.get("datasource") or {}
            kind = datasources.get(ref.get("uid"), {}).get("type")
            where = f"panel {panel.get('id')} ({panel.get('title')}) {target.get('refId')}"
            try:
                expr = grafana_vars(target.get("expr", ""), dashboard)
            except KeyError as e:
                problems.append(f"{where}: uses ${e.args[0]}, which is no dashboard variable")
                continue
            if kind == "prometheus":
                promql.append((where, expr))
            elif kind == "loki":
                logql.append((where, expr))
    c.result(f"{label}: every data source uid is provisioned, with its type", problems)

    # PromQL: promtool parses each expression as a recording rule.
    with tempfile.TemporaryDirectory() as tmp:
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query:{n}", "expr": expr} for n, (_, expr) in enumerate(promql)]}]}
        rules_file = Path(tmp) / "dashboard-rules.yml"
        rules_file.write_text(json.dumps(rules, indent=1))  # JSON is YAML
        run = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True)
        problems = []
        if run.returncode != 0:
            output = (run.stdout + run.stderr).strip()
            for n, (where, expr) in enumerate(promql):
                single = Path(tmp) / f"one-{n}.yml"
                single.write_text(json.dumps({"groups": [{"name": "one", "rules": [{"record": "dashboard:query", "expr": expr}]}]}))
                one = subprocess.run([promtool, "check", "rules", str(single)], capture_output=True, text=True)
                if one.returncode != 0:
                    problems.append(f"{where}: {expr}\n         {(one.stdout + one.stderr).strip().splitlines()[-1]}")
            if not problems:
                problems.append(output)
    c.result(f"{label}: every PromQL expression parses (promtool check rules)", problems, f"{len(promql)} expressions")

    # Metric names and labels.
    problems = []
    known = {**METRICS, **OTHER_METRICS}
    for where, expr in promql:
        stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
        names = set()
        for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", stripped):
            name = m.group(1)
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name.startswith("kiln_") or name in OTHER_METRICS:
                metric = name if name in known else base
                if metric not in known or (metric != name and known[metric][0] != "histogram"):
                    problems.append(f"{where}: {name} is not a metric Kiln exposes")
                    continue
                names.add(metric)
                used.add(metric)
                allowed = known[metric][1] | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())
                for name in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(2) or ""):
                    if name not in allowed:
                        problems.append(f"{where}: {metric} has no label {name}")
        allowed = set(TARGET_LABELS)
        for metric in names:
            allowed |= known[metric][1] | ({"le"} if known[metric][0] == "histogram" else set())
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", stripped):
            for name in filter(None, (x.strip() for x in group.split(","))):
                if name not in allowed:
                    problems.append(f"{where}: groups by {name}, which none of {sorted(names)} has")
    for panel in panels:
        for target in panel.get("targets", []):
            grouped = set()
            for group in re.findall(r"\bby\s*\(([^)]*)\)", target.get("expr", "")):
                grouped |= {x.strip() for x in group.split(",")}
            for name in re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", target.get("legendFormat", "")):
                if name not in grouped:
                    problems.append(f"panel {panel.get('id')} {target.get('refId')}: legend uses {{{{{name}}}}}, which the query does not keep")
    missing = sorted(set(METRICS) - used)
    if missing:
        problems.append(f"metrics no panel shows: {', '.join(missing)}")
    # METRICS above must be what Kiln really registers (src/telemetry).
    literals = set(re.findall(r'"(kiln_[a-z0-9_]+)"', "\n".join(p.read_text() for p in (root / "src").rglob("*.rs"))))
    if literals & set(METRICS):
        for name in sorted(set(METRICS) - literals):
            problems.append(f"{name} is not a metric name in src/ (has it been renamed?)")
    else:
        c.note("src/ names none of Kiln's metrics yet: metric names checked against the list only")
    c.result(f"{label}: kiln_* metrics and labels are ones Kiln exposes; every one is shown", problems,
             f"{len(used & set(METRICS))} of {len(METRICS)} metrics")


def check_logql(c: Checks, node: str, tools: Path, logql: list[tuple[str, str]]) -> None:
    run = subprocess.run([node, str(tools), "logql"], input=json.dumps([q for _, q in logql]),
                         capture_output=True, text=True)
    if run.returncode != 0:
        c.result("LogQL expressions parse", [run.stderr.strip()])
        return
    problems = [f"{where}: {query!r} has a syntax error at offset {at}"
                for (where, query), at in zip(logql, json.loads(run.stdout)) if at is not None]
    c.result("LogQL expressions parse (Grafana's LogQL grammar, @grafana/lezer-logql)", problems,
             f"{len(logql)} expressions")


# ------------------------------------------------------------------ Dockerfile
def check_dockerfile(c: Checks, root: Path, docker: Path) -> None:
    text = (docker / "Dockerfile").read_text()
    ignore_file = docker / "Dockerfile.dockerignore"
    ignores = [l.strip() for l in ignore_file.read_text().splitlines()
               if l.strip() and not l.startswith("#")] if ignore_file.exists() else []
    problems = []
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        parts = line.split()
        if not parts or parts[0].upper() != "COPY" or any(p.startswith("--from") for p in parts):
            continue
        sources = [p for p in parts[1:-1] if not p.startswith("--")]
        for source in sources:
            if "[" in source:  # optional-path pattern: copies nothing when absent
                continue
            if not (root / source).exists():
                problems.append(f"COPY {source}: not in the repository")
            for pattern in ignores:
                if fnmatch.fnmatch(source.rstrip("/"), pattern.rstrip("/")) or source.startswith(pattern.rstrip("/") + "/"):
                    problems.append(f"COPY {source}: excluded by Dockerfile.dockerignore ({pattern})")
    if not re.search(r"^USER\s+(?!0\b|root\b)\S+", text, re.M):
        problems.append("the runtime image runs as root (no USER)")
    if "PDFIUM_LIBRARY=" not in joined or "libpdfium.so" not in joined:
        problems.append("the runtime image does not set PDFIUM_LIBRARY to its libpdfium.so")
    c.result("Dockerfile: COPY sources exist and are not ignored; non-root; PDFium wired", problems)


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    schema_dir = Path(sys.argv[2])
    promtool = os.environ.get("PROMTOOL", "promtool")
    node = os.environ.get("NODE", "node")
    docker = root / "docker"
    c = Checks()
    compose, services = check_compose(c, root, docker)
    if services:
        logql: list[tuple[str, str]] = []
        check_prometheus(c, docker, services)
        check_grafana(c, root, docker, services, schema_dir, promtool, logql)
        check_logs(c, docker, compose, services, logql)
        check_logql(c, node, docker / "check" / "grafana-tools.cjs", logql)
    check_dockerfile(c, root, docker)
    print(f"check_docker.py: {c.passed} checks ok, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
