//! The `kiln` binary's migrate subcommand on the configured database.

use crate::support::app::app_env;
use crate::support::cli::kiln;
use crate::support::fixtures::fixture_path;

#[actix_rt::test]
async fn migrate_runs_up_down_and_up_again() {
    let data_dir = tempfile::tempdir().unwrap();
    let (env, _database) = app_env(data_dir.path()).await;
    let migrate = |args: &[&str]| kiln(args).envs(&env).stdout();

    let up = migrate(&["migrate", "up"]);
    assert!(up.lines().count() >= 10);
    assert!(up.lines().all(|l| l.starts_with("applied")), "{up}");

    let one_down = migrate(&["migrate", "down"]);
    assert_eq!(
        one_down
            .lines()
            .filter(|l| l.starts_with("pending"))
            .count(),
        1,
        "{one_down}"
    );

    let all_down = migrate(&["migrate", "down", "--all"]);
    assert!(
        all_down.lines().all(|l| l.starts_with("pending")),
        "{all_down}"
    );

    let again = migrate(&["migrate", "up"]);
    assert_eq!(again, up);
    assert_eq!(migrate(&["migrate", "status"]), up);
}

#[test]
fn a_bad_variable_stops_kiln_with_one_line_naming_it() {
    let output = kiln(&["migrate", "status"])
        .env("DATABASE_URL", "postgres://kiln@127.0.0.1/kiln")
        .env("JWT_SECRET", "")
        .run();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}

#[test]
fn process_runs_a_processor_on_local_files_and_reports_the_output() {
    let out = tempfile::tempdir().unwrap();
    let thumb = out.path().join("thumb.jpg");
    let printed = kiln(&[
        "process",
        "thumbnail",
        &fixture_path("photo.jpg"),
        thumb.to_str().unwrap(),
    ])
    .stdout();
    assert!(
        printed.contains("image/jpeg") && printed.contains("300x200"),
        "{printed}"
    );
    assert!(printed.contains("took "), "{printed}");
    let image = image::open(&thumb).unwrap();
    assert_eq!((image.width(), image.height()), (300, 200));

    let sizes = out.path().join("sizes");
    let printed = kiln(&[
        "process",
        "resize",
        &fixture_path("photo.jpg"),
        sizes.to_str().unwrap(),
    ])
    .stdout();
    assert!(
        printed.contains("sm\t") && printed.contains("md\t"),
        "{printed}"
    );
    assert_eq!(image::open(sizes.join("sm.jpg")).unwrap().width(), 640);

    let custom = out.path().join("square.png");
    let options = r#"{"width":64,"height":64,"fit":"cover","format":"png"}"#;
    kiln(&[
        "process",
        "thumbnail",
        &fixture_path("photo.jpg"),
        custom.to_str().unwrap(),
        "--options",
        options,
    ])
    .stdout();
    let image = image::open(&custom).unwrap();
    assert_eq!((image.width(), image.height()), (64, 64));
}

#[test]
fn process_fails_with_the_reason_for_bad_input_or_options() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("x.jpg");
    for (args, reason) in [
        (vec!["process", "sharpen", "in", "out"], "sharpen"),
        (
            vec!["process", "thumbnail", "/nonexistent.jpg", "out"],
            "cannot read",
        ),
        (
            vec!["process", "thumbnail", "in", "out", "--options", "{"],
            "not JSON",
        ),
    ] {
        let output = kiln(&args).run();
        assert!(!output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(reason),
            "{args:?}"
        );
    }
    let truncated = fixture_path("truncated.jpg");
    let output = kiln(&["process", "thumbnail", &truncated, target.to_str().unwrap()]).run();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("corrupt"));
    assert!(!target.exists(), "nothing is written for a failed run");
}
