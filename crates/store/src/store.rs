use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase};
use weft_api::{Kind, Resource, ResourceKey};

use crate::error::db;
use crate::tables::{ALLOCATIONS, META, OBJECTS, REVISION, list_prefix, object_key};
use crate::txn::{decode, read_allocations, scan};
use crate::{Allocation, Event, StoreError, Txn};

/// The database, owned by one task of the controller (writes are serialized through it).
pub struct Store {
    db: Database,
    path: PathBuf,
    revision: u64,
}

impl Store {
    /// The database file inside a data directory.
    pub const FILE: &'static str = "weft.redb";

    /// Opens (or creates) the store in `dir`. After a crash redb recovers to the last committed
    /// transaction here.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(Self::FILE);
        let database = Database::create(&path).map_err(db)?;
        let tx = database.begin_write().map_err(db)?;
        {
            tx.open_table(OBJECTS).map_err(db)?;
            tx.open_table(ALLOCATIONS).map_err(db)?;
            tx.open_table(META).map_err(db)?;
        }
        tx.commit().map_err(db)?;
        let mut store = Store {
            db: database,
            path,
            revision: 0,
        };
        store.revision = store.read_revision()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The revision of the last committed change.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    fn read_revision(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(META).map_err(db)?;
        Ok(table.get(REVISION).map_err(db)?.map(|v| v.value()).unwrap_or(0))
    }

    pub fn get(&self, key: &ResourceKey) -> Result<Option<Resource>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(OBJECTS).map_err(db)?;
        let k = object_key(key);
        let found = table.get(k.as_str()).map_err(db)?;
        found.map(|v| decode(&k, v.value())).transpose()
    }

    /// Objects of one kind, in one namespace or all; sorted by namespace and name.
    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Resource>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(OBJECTS).map_err(db)?;
        scan(&table, &list_prefix(kind, namespace))
    }

    pub fn allocations(&self) -> Result<Vec<Allocation>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(ALLOCATIONS).map_err(db)?;
        read_allocations(&table)
    }

    /// Runs `f` in one write transaction and commits it durably when `f` succeeds; when it fails
    /// nothing is written. Returns `f`'s value and the events of the change.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&mut Txn) -> Result<T, E>) -> Result<(T, Vec<Event>), E>
    where
        E: From<StoreError>,
    {
        let tx = self.db.begin_write().map_err(|e| E::from(db(e)))?;
        let mut txn = Txn {
            tx,
            base_revision: self.revision,
            events: Vec::new(),
        };
        match f(&mut txn) {
            Ok(value) => {
                let Txn { tx, events, .. } = txn;
                tx.commit().map_err(|e| E::from(db(e)))?;
                if let Some(last) = events.last() {
                    self.revision = last.revision;
                }
                Ok((value, events))
            }
            Err(e) => {
                // Dropping the transaction aborts it; abort explicitly to surface storage errors.
                let _ = txn.tx.abort();
                Err(e)
            }
        }
    }
}
