//! Server-side faults: connections the server kills are replaced at checkout, and the next
//! operations succeed.

use chrono::NaiveDate;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use finstage_domain::{Bar, Symbol};
use finstage_store::Backend;

use crate::support::TestDb;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Kills every other connection to the test database; returns how many.
async fn kill_pooled_connections(db: &TestDb) -> usize {
    let url = db.store.config().url.expose_secret().to_owned();
    match db.store.backend() {
        Backend::Postgres => {
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            let others: Vec<Id> = diesel::sql_query(
                "SELECT pid::bigint AS id FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .load(&mut conn)
            .await
            .unwrap();
            for other in &others {
                conn.batch_execute(&format!("SELECT pg_terminate_backend({})", other.id))
                    .await
                    .unwrap();
            }
            others.len()
        }
        Backend::Mysql => {
            let mut conn = AsyncMysqlConnection::establish(&url).await.unwrap();
            let others: Vec<Id> = diesel::sql_query(
                "SELECT CAST(id AS SIGNED) AS id FROM information_schema.processlist \
                 WHERE db = DATABASE() AND id <> CONNECTION_ID()",
            )
            .load(&mut conn)
            .await
            .unwrap();
            for other in &others {
                conn.batch_execute(&format!("KILL CONNECTION {}", other.id))
                    .await
                    .unwrap();
            }
            others.len()
        }
        Backend::Sqlite => unreachable!("no server to kill connections on"),
    }
}

async fn killed_connections_are_replaced(backend: Backend) {
    let db = TestDb::with(backend, |c| {
        c.pool.max_size = 4;
        c.pool.min_idle = 4;
    })
    .await;
    let symbol = Symbol::parse("AAPL").unwrap();
    let day = |n| NaiveDate::from_ymd_opt(2021, 1, 1).unwrap() + chrono::Duration::days(n);
    let bars: Vec<Bar> = (0..10)
        .map(|n| Bar::new(day(n), 10.0, 11.0, 9.0, 10.0, 5).unwrap())
        .collect();
    db.store.daily_bars().upsert(&symbol, &bars[..5]).await.unwrap();
    // Fill the pool: four connections, all idle afterwards.
    let held: Vec<_> = futures_join_all(&db).await;
    drop(held);
    assert_eq!(db.store.pool_status().idle, 4);

    let killed = kill_pooled_connections(&db).await;
    assert!(killed >= 4, "killed {killed} connections");

    // Every pooled connection is dead; each checkout verifies and replaces it.
    for round in 0..6 {
        db.store
            .daily_bars()
            .upsert(&symbol, &bars[5..])
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(db.store.daily_bars().count(&symbol).await.unwrap(), 10);
    }
    let held = futures_join_all(&db).await;
    assert_eq!(held.len(), 4);
}

/// Checks out every connection of the pool at once.
async fn futures_join_all(db: &TestDb) -> Vec<finstage_store::Conn> {
    let (a, b, c, d) = tokio::join!(db.store.conn(), db.store.conn(), db.store.conn(), db.store.conn());
    vec![a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_postgres_connections_are_replaced() {
    killed_connections_are_replaced(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mysql_connections_are_replaced() {
    killed_connections_are_replaced(Backend::Mysql).await;
}
