//! Test databases for the database backend: `finstage-test-support`'s `TestDb`, one per test.

use finstage_store::Backend;
use finstage_test_support::db::TestDb;

/// A fresh migrated database on `backend`, dropped with the guard.
pub(crate) struct Db;

impl Db {
    #[allow(clippy::new_ret_no_self)] // a constructor of the shared guard, named as before
    pub(crate) fn new(backend: Backend) -> TestDb {
        TestDb::new(backend, "finstage_tasks")
    }
}
