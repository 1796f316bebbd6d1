//! Every migration must run up, down and up again on both backends Kiln
//! supports: SQLite always, PostgreSQL when `TEST_DATABASE_URL` names an admin
//! connection (a fresh database is created for the run and dropped after it).

use migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use migration::{Migrator, MigratorTrait, SchemaManager};

const TABLES: [&str; 10] = [
    "users",
    "sessions",
    "oauth_accounts",
    "api_tokens",
    "revoked_tokens",
    "files",
    "file_variants",
    "processing_jobs",
    "password_resets",
    "email_verifications",
];

async fn assert_tables(db: &DatabaseConnection, expect_present: bool) {
    let manager = SchemaManager::new(db);
    for table in TABLES {
        let present = manager.has_table(table).await.expect("inspect schema");
        assert_eq!(
            present, expect_present,
            "table {table}: present = {present}, expected {expect_present}"
        );
    }
}

/// The columns later migrations add to existing tables, oldest first.
const ADDED_COLUMNS: [(&str, &str); 3] = [
    ("users", "token_generation"),
    ("users", "disabled_at"),
    ("file_variants", "sha256"),
];

async fn has_column(db: &DatabaseConnection, (table, column): (&str, &str)) -> bool {
    SchemaManager::new(db)
        .has_column(table, column)
        .await
        .expect("inspect schema")
}

async fn run_up_down_up(db: &DatabaseConnection) {
    Migrator::up(db, None).await.expect("first up");
    assert_tables(db, true).await;
    for column in ADDED_COLUMNS {
        assert!(has_column(db, column).await, "{column:?}");
    }

    // The column migrations alone go down and up again on a populated schema,
    // newest first.
    for column in ADDED_COLUMNS.iter().rev() {
        Migrator::down(db, Some(1)).await.expect("down one step");
        assert!(!has_column(db, *column).await, "{column:?}");
        assert_tables(db, true).await;
    }
    Migrator::up(db, None).await.expect("up again");
    for column in ADDED_COLUMNS {
        assert!(has_column(db, column).await, "{column:?}");
    }

    Migrator::down(db, None).await.expect("down");
    assert_tables(db, false).await;

    Migrator::up(db, None).await.expect("second up");
    assert_tables(db, true).await;
    let pending = Migrator::get_pending_migrations(db).await.expect("status");
    assert!(
        pending.is_empty(),
        "{} migrations still pending",
        pending.len()
    );
}

#[tokio::test]
async fn migrations_run_up_down_and_up_again_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("kiln.db").display());
    let db = Database::connect(&url).await.expect("open sqlite");

    run_up_down_up(&db).await;

    db.close().await.expect("close sqlite");
}

#[tokio::test]
async fn migrations_run_up_down_and_up_again_on_a_fresh_postgres_database() {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("TEST_DATABASE_URL is not set; skipping the PostgreSQL run");
        return;
    };
    let admin = Database::connect(&admin_url).await.expect("connect admin");
    let name = format!("kiln_mig_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");

    let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    // Run the body as its own task so a failed assertion still reaches the
    // DROP DATABASE below instead of leaking a database per failed run.
    let outcome = tokio::spawn(async move {
        let db = Database::connect(url.as_str())
            .await
            .expect("connect test db");
        run_up_down_up(&db).await;
        db.close().await.expect("close test db");
    })
    .await;

    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .expect("drop test database");
    admin.close().await.expect("close admin");
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}
