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

/// What a migration after the first tables adds.
#[derive(Debug, Clone, Copy)]
enum Adds {
    Column(&'static str, &'static str),
    Table(&'static str),
}

/// What the later migrations add, oldest first.
const LATER: [Adds; 10] = [
    Adds::Column("users", "token_generation"),
    Adds::Column("users", "disabled_at"),
    Adds::Column("file_variants", "sha256"),
    Adds::Column("files", "thumbhash"),
    Adds::Table("file_shares"),
    Adds::Table("transforms"),
    Adds::Column("users", "quota_unlimited"),
    Adds::Column("files", "purge_started_at"),
    Adds::Table("uploads"),
    Adds::Table("webhooks"),
];

async fn is_there(db: &DatabaseConnection, adds: Adds) -> bool {
    let manager = SchemaManager::new(db);
    match adds {
        Adds::Column(table, column) => manager.has_column(table, column).await,
        Adds::Table(table) => manager.has_table(table).await,
    }
    .expect("inspect schema")
}

async fn run_up_down_up(db: &DatabaseConnection) {
    Migrator::up(db, None).await.expect("first up");
    assert_tables(db, true).await;
    for adds in LATER {
        assert!(is_there(db, adds).await, "{adds:?}");
    }

    // The later migrations alone go down and up again on a populated schema,
    // newest first.
    for adds in LATER.iter().rev() {
        Migrator::down(db, Some(1)).await.expect("down one step");
        assert!(!is_there(db, *adds).await, "{adds:?}");
        assert_tables(db, true).await;
    }
    Migrator::up(db, None).await.expect("up again");
    for adds in LATER {
        assert!(is_there(db, adds).await, "{adds:?}");
    }

    Migrator::down(db, None).await.expect("down");
    assert_tables(db, false).await;
    assert!(!is_there(db, Adds::Table("file_shares")).await);
    assert!(!is_there(db, Adds::Table("transforms")).await);

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
