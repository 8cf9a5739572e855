//! The store's contract: revisions, optimistic concurrency, no-op applies, atomic transactions,
//! and persistence across reopening.

use std::net::IpAddr;

use weft_api::{Kind, Resource, ResourceKey, manifest};
use weft_store::{Allocation, EventType, Outcome, Precondition, Store, StoreError};

fn vn(name: &str, vni: u32) -> Resource {
    let text = format!(
        "apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata: {{name: {name}}}\nspec: {{vni: {vni}}}\n"
    );
    manifest::parse(&text, "-").unwrap().remove(0)
}

fn pod(ns: &str, name: &str) -> Resource {
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{containers: [{{name: c}}]}}\n"
    );
    manifest::parse(&text, "-").unwrap().remove(0)
}

fn put(store: &mut Store, r: Resource, pre: Precondition) -> Result<(Outcome, Resource), StoreError> {
    store.write(|t| t.put(r, pre)).map(|(v, _)| v)
}

#[test]
fn revisions_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.revision(), 0);
    let (outcome, stored) = put(&mut store, vn("blue", 1), Precondition::Any).unwrap();
    assert_eq!(outcome, Outcome::Created);
    assert_eq!(stored.resource_version(), Some("1"));
    assert!(stored.meta().uid.is_some());
    assert_eq!(stored.meta().generation, Some(1));
    // The same manifest again changes nothing and bumps no revision.
    let (outcome, again) = put(&mut store, vn("blue", 1), Precondition::Any).unwrap();
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(again, stored);
    assert_eq!(store.revision(), 1);
    // A spec change: new revision, same uid, generation 2.
    let (outcome, changed) = put(&mut store, vn("blue", 2), Precondition::Any).unwrap();
    assert_eq!(outcome, Outcome::Configured);
    assert_eq!(changed.resource_version(), Some("2"));
    assert_eq!(changed.meta().uid, stored.meta().uid);
    assert_eq!(changed.meta().generation, Some(2));
}

#[test]
fn optimistic_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let (_, v1) = put(&mut store, vn("blue", 1), Precondition::Any).unwrap();
    // Two writers read v1; the first wins, the second gets a conflict naming both versions.
    let mut a = vn("blue", 2);
    a.meta_mut().resource_version = v1.meta().resource_version.clone();
    let mut b = vn("blue", 3);
    b.meta_mut().resource_version = v1.meta().resource_version.clone();
    put(&mut store, a, Precondition::Any).unwrap();
    let err = put(&mut store, b, Precondition::Any).unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { ref sent, ref current, .. } if sent == "1" && current == "2"),
        "{err}"
    );
    assert!(matches!(
        put(&mut store, vn("blue", 4), Precondition::Absent),
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        put(&mut store, vn("red", 4), Precondition::Present),
        Err(StoreError::NotFound { .. })
    ));
    let key = ResourceKey::new(Kind::VirtualNetwork, None, "blue");
    assert!(matches!(
        store.write(|t| t.delete(&key, Some("1"))),
        Err(StoreError::Conflict { .. })
    ));
    let (deleted, events) = store.write(|t| t.delete(&key, Some("2"))).unwrap();
    assert_eq!(deleted.name(), "blue");
    assert_eq!(events[0].kind, EventType::Deleted);
    assert_eq!(store.get(&key).unwrap(), None);
}

#[test]
fn a_failed_transaction_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let result: Result<((), _), StoreError> = store.write(|t| {
        t.put(vn("blue", 1), Precondition::Any)?;
        t.put(vn("blue", 2), Precondition::Absent)?; // fails: AlreadyExists
        Ok(())
    });
    assert!(result.is_err());
    assert_eq!(store.list(Kind::VirtualNetwork, None).unwrap(), vec![]);
    assert_eq!(store.revision(), 0);
}

#[test]
fn lists_by_kind_and_namespace_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(dir.path()).unwrap();
        let ((), events) = store
            .write(|t| {
                for (ns, name) in [("a", "p1"), ("a", "p2"), ("b", "p1")] {
                    t.put(pod(ns, name), Precondition::Any)?;
                }
                t.put(vn("blue", 1), Precondition::Any)?;
                t.put_allocation(&Allocation {
                    pool: "pods".into(),
                    address: "10.0.0.1".parse::<IpAddr>().unwrap(),
                    owner: "Pod/a/p1".into(),
                    allocated_at: jiff::Timestamp::now(),
                })?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        // One transaction, one revision for all its events.
        assert_eq!(events.len(), 4);
        assert!(events.iter().all(|e| e.revision == 1 && e.kind == EventType::Added));
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.revision(), 1);
    assert_eq!(store.list(Kind::Pod, None).unwrap().len(), 3);
    let in_a: Vec<String> = store
        .list(Kind::Pod, Some("a"))
        .unwrap()
        .iter()
        .map(|r| r.name().to_string())
        .collect();
    assert_eq!(in_a, ["p1", "p2"]);
    assert_eq!(store.list(Kind::VirtualNetwork, None).unwrap().len(), 1);
    assert_eq!(store.allocations().unwrap()[0].owner, "Pod/a/p1");
}
