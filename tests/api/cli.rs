//! The `kiln` binary's migrate subcommand on the configured database.

use std::process::Command;

use crate::helpers::base_env;

fn kiln(env: &std::collections::HashMap<String, String>, args: &[&str]) -> String {
    // Run outside the checkout so a developer's .env cannot leak in.
    let output = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("kiln runs");
    assert!(
        output.status.success(),
        "kiln {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[actix_rt::test]
async fn migrate_runs_up_down_and_up_again() {
    let data_dir = tempfile::tempdir().unwrap();
    let (env, _database) = base_env(data_dir.path()).await;

    let up = kiln(&env, &["migrate", "up"]);
    assert!(up.lines().count() >= 10);
    assert!(up.lines().all(|l| l.starts_with("applied")), "{up}");

    let one_down = kiln(&env, &["migrate", "down"]);
    assert_eq!(
        one_down
            .lines()
            .filter(|l| l.starts_with("pending"))
            .count(),
        1,
        "{one_down}"
    );

    let all_down = kiln(&env, &["migrate", "down", "--all"]);
    assert!(
        all_down.lines().all(|l| l.starts_with("pending")),
        "{all_down}"
    );

    let again = kiln(&env, &["migrate", "up"]);
    assert_eq!(again, up);
    assert_eq!(kiln(&env, &["migrate", "status"]), up);
}

#[test]
fn a_bad_variable_stops_kiln_with_one_line_naming_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["migrate", "status"])
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("DATABASE_URL", "postgres://kiln@127.0.0.1/kiln")
        .env("JWT_SECRET", "")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}
