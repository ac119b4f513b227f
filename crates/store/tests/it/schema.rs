//! The migrations: idempotent, and the same tables and columns on all three backends (but for
//! MySQL's generated `tasks.active_unique_key`, its stand-in for a partial unique index).

use std::collections::BTreeSet;

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Text};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl};
use finstage_store::{Backend, TABLES};

use crate::support::{TestDb, backend_tests};

#[derive(QueryableByName, Debug)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

/// `(table, column, nullable)` of every application table.
async fn columns(db: &TestDb) -> BTreeSet<(String, String, bool)> {
    let url = db.store.config().url.expose_secret().to_owned();
    let rows: Vec<Column> = match db.store.backend() {
        Backend::Postgres => {
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                 CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
                 FROM information_schema.columns WHERE table_schema = 'public'",
            )
            .load(&mut conn)
            .await
            .unwrap()
        }
        Backend::Mysql => {
            let mut conn = AsyncMysqlConnection::establish(&url).await.unwrap();
            diesel::sql_query(
                "SELECT CAST(table_name AS CHAR) AS table_name, CAST(column_name AS CHAR) AS column_name, \
                 CAST(CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS SIGNED) AS nullable \
                 FROM information_schema.columns WHERE table_schema = DATABASE()",
            )
            .load(&mut conn)
            .await
            .unwrap()
        }
        Backend::Sqlite => {
            let mut conn = SyncConnectionWrapper::<diesel::SqliteConnection>::establish(&url)
                .await
                .unwrap();
            diesel::sql_query(
                "SELECT m.name AS table_name, p.name AS column_name, 1 - p.\"notnull\" AS nullable \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
            )
            .load(&mut conn)
            .await
            .unwrap()
        }
    };
    rows.into_iter()
        .filter(|c| TABLES.contains(&c.table_name.as_str()))
        .map(|c| (c.table_name, c.column_name, c.nullable != 0))
        .collect()
}

async fn migrations_are_idempotent(backend: Backend) {
    let db = TestDb::new(backend).await;
    assert_eq!(db.store.migrate().await.unwrap(), 0, "a second run applies nothing");
    let tables: BTreeSet<String> = columns(&db).await.into_iter().map(|(t, _, _)| t).collect();
    assert_eq!(tables, TABLES.iter().map(|t| (*t).to_owned()).collect());
}

backend_tests!(migrations_are_idempotent);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_schemas_have_the_same_tables_and_columns() {
    let (postgres, mysql, sqlite) = tokio::join!(
        TestDb::new(Backend::Postgres),
        TestDb::new(Backend::Mysql),
        TestDb::new(Backend::Sqlite)
    );
    let postgres = columns(&postgres).await;
    let mut mysql = columns(&mysql).await;
    // The one documented difference: MySQL has no partial indexes, so one pending or running
    // task per unique key is a unique index on a generated column that the others do not need.
    assert!(
        mysql.remove(&("tasks".to_owned(), "active_unique_key".to_owned(), true)),
        "mysql's tasks.active_unique_key"
    );
    let sqlite = columns(&sqlite).await;
    assert!(postgres.len() > 80, "{} columns", postgres.len());
    assert_eq!(
        postgres.symmetric_difference(&mysql).collect::<Vec<_>>(),
        Vec::<&(String, String, bool)>::new(),
        "postgres vs mysql"
    );
    assert_eq!(
        postgres.symmetric_difference(&sqlite).collect::<Vec<_>>(),
        Vec::<&(String, String, bool)>::new(),
        "postgres vs sqlite"
    );
}
