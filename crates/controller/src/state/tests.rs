//! Tests of the state owner driven directly, without HTTP: admission, cascades, and a property
//! test of address management across random operations and restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use proptest::prelude::*;
use weft_api::{Kind, Resource, ResourceKey, manifest};
use weft_store::Precondition;

use super::State;
use crate::{ControllerConfig, ControllerError};

fn config(dir: &std::path::Path) -> ControllerConfig {
    let mut c = ControllerConfig::new(dir, "127.0.0.1:0".parse().unwrap());
    c.gc_grace = Duration::ZERO;
    c
}

fn object(yaml: &str) -> Resource {
    manifest::parse(yaml, "test")
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(0)
}

const CLUSTER: &str = "apiVersion: weft.io/v1alpha1\nkind: Cluster\nmetadata: {name: c}\nspec: {asn: 64512, podCIDRs: [10.244.0.0/28, fd00:244::/124], serviceCIDRs: [10.96.0.0/29]}\n";
const LAB_VN: &str = "apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: lab}\nspec: {vni: 7, subnets: [10.1.0.0/29]}\n";
const LAB_NS: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: lab, annotations: {weft.io/virtual-network: lab}}\n";
const ISO_NS: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: iso, annotations: {weft.io/isolated: \"true\"}}\n";

fn pod(ns: &str, name: &str) -> Resource {
    object(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{containers: [{{name: c}}]}}\n"
    ))
}

fn service(name: &str) -> Resource {
    object(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec: {{ports: [{{port: 80}}]}}\n"
    ))
}

fn setup(state: &mut State) {
    for yaml in [CLUSTER, LAB_VN, LAB_NS, ISO_NS] {
        state.apply(object(yaml), Precondition::Any).unwrap();
    }
}

/// Every allocation in the store, by (pool, address) -> owner; checks the pools agree.
fn allocations(state: &State) -> BTreeMap<(String, IpAddr), String> {
    let stored: BTreeMap<(String, IpAddr), String> = state
        .store
        .allocations()
        .unwrap()
        .into_iter()
        .map(|a| ((a.pool, a.address), a.owner))
        .collect();
    let in_memory: BTreeMap<(String, IpAddr), String> = state
        .pools
        .iter()
        .flat_map(|(name, p)| p.allocations().map(move |(ip, o)| ((name.clone(), ip), o.to_string())))
        .collect();
    assert_eq!(stored, in_memory, "store and pools disagree");
    stored
}

#[test]
fn service_gets_a_cluster_ip_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::open(&config(dir.path())).unwrap();
    let err = state.apply(service("web"), Precondition::Any).unwrap_err();
    assert!(err.to_string().contains("no Cluster object"), "{err}");
    setup(&mut state);
    let (_, svc) = state.apply(service("web"), Precondition::Any).unwrap();
    let Resource::Service(svc) = svc else { panic!() };
    let ip = svc.spec.as_ref().unwrap().cluster_ip.clone().unwrap();
    assert!(ip.starts_with("10.96.0."), "{ip}");
    // Re-applying the manifest without clusterIP keeps it and changes nothing.
    let (outcome, again) = state.apply(service("web"), Precondition::Any).unwrap();
    assert_eq!(outcome, weft_api::wire::Outcome::Unchanged);
    let Resource::Service(again) = again else { panic!() };
    assert_eq!(again.spec.unwrap().cluster_ip.unwrap(), ip);
    // Another Service may not take the same address.
    let taken = object(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: other}}\nspec: {{clusterIP: {ip}, ports: [{{port: 80}}]}}\n"
    ));
    let err = state.apply(taken, Precondition::Any).unwrap_err().to_string();
    assert!(
        err.contains("spec.clusterIPs[0]") && err.contains("Service/default/web"),
        "{err}"
    );
    // Nor one outside the service CIDR.
    let outside = object(
        "apiVersion: v1\nkind: Service\nmetadata: {name: out}\nspec: {clusterIP: 10.97.0.1, ports: [{port: 80}]}\n",
    );
    assert!(state.apply(outside, Precondition::Any).is_err());
    // The failed attempts left no allocation behind.
    assert_eq!(allocations(&state).len(), 1);
}

#[test]
fn a_namespace_takes_its_objects_and_their_addresses_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::open(&config(dir.path())).unwrap();
    setup(&mut state);
    state.apply(pod("lab", "a"), Precondition::Any).unwrap();
    let addresses = state.allocate_pod("lab", "a").unwrap();
    assert_eq!(addresses.pool, "vn/lab");
    assert_eq!(addresses.network, "lab");
    assert!(addresses.addresses[0].to_string().starts_with("10.1.0."));
    // The VN is in use: it cannot be deleted, nor its subnet removed.
    let vn = ResourceKey::new(Kind::VirtualNetwork, None, "lab");
    assert!(matches!(state.delete(&vn, None), Err(ControllerError::Conflict(_))));
    let shrunk = object(
        "apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: lab}\nspec: {vni: 7, subnets: [10.2.0.0/29]}\n",
    );
    let err = state.apply(shrunk, Precondition::Any).unwrap_err().to_string();
    assert!(err.contains("strand") && err.contains("Pod/lab/a"), "{err}");
    state
        .delete(&ResourceKey::new(Kind::Namespace, None, "lab"), None)
        .unwrap();
    assert!(state.list(Kind::Pod, Some("lab")).unwrap().1.is_empty());
    assert!(allocations(&state).is_empty());
    // Now nothing uses it.
    state.delete(&vn, None).unwrap();
}

#[test]
fn objects_need_their_namespace_and_one_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::open(&config(dir.path())).unwrap();
    setup(&mut state);
    let err = state
        .apply(pod("nowhere", "a"), Precondition::Any)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Namespace/nowhere does not exist"), "{err}");
    let other = CLUSTER.replace("name: c", "name: d");
    let err = state.apply(object(&other), Precondition::Any).unwrap_err().to_string();
    assert!(err.contains("this controller serves Cluster/c"), "{err}");
}

#[test]
fn watch_resumes_from_a_revision() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::open(&config(dir.path())).unwrap();
    let (revision, _) = state.list(Kind::Namespace, None).unwrap();
    state.apply(object(LAB_NS), Precondition::Any).unwrap();
    state.apply(object(ISO_NS), Precondition::Any).unwrap();
    let start = state.watch(Kind::Namespace, None, Some(revision)).unwrap();
    let names: Vec<&str> = start
        .initial
        .iter()
        .filter(|e| e.object.kind() == Kind::Namespace)
        .map(|e| e.object.name())
        .collect();
    assert_eq!(names, ["lab", "iso"]);
    // A revision from before this process started is not in memory: expired, list again.
    drop(state);
    let state = State::open(&config(dir.path())).unwrap();
    assert!(matches!(
        state.watch(Kind::Namespace, None, Some(revision)),
        Err(ControllerError::Expired { .. })
    ));
    let current = state.store.revision();
    assert!(
        state
            .watch(Kind::Namespace, None, Some(current))
            .unwrap()
            .initial
            .is_empty()
    );
}

#[derive(Debug, Clone)]
enum Op {
    CreatePod(usize, usize),
    Allocate(usize, usize),
    DeletePod(usize, usize),
    Release(usize, usize),
    CreateService(usize),
    DeleteService(usize),
    CollectGarbage,
    Restart,
}

const NAMESPACES: [&str; 3] = ["default", "lab", "iso"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..12usize).prop_map(|(n, p)| Op::CreatePod(n, p)),
        6 => (0..3usize, 0..12usize).prop_map(|(n, p)| Op::Allocate(n, p)),
        3 => (0..3usize, 0..12usize).prop_map(|(n, p)| Op::DeletePod(n, p)),
        1 => (0..3usize, 0..12usize).prop_map(|(n, p)| Op::Release(n, p)),
        2 => (0..8usize).prop_map(Op::CreateService),
        1 => (0..8usize).prop_map(Op::DeleteService),
        1 => Just(Op::CollectGarbage),
        1 => Just(Op::Restart),
    ]
}

fn pool_of(namespace: &str) -> &'static str {
    if namespace == "lab" { "vn/lab" } else { "pods" }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random allocations, releases, deletions, garbage collections and restarts: no address is
    /// ever held twice, the store and the pools always agree with a simple model (no leak), and
    /// a failed allocation is always a clear exhaustion of a pool that is really full.
    #[test]
    fn addresses_are_never_duplicated_or_leaked(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&config(dir.path())).unwrap();
        setup(&mut state);
        // Model: owner -> addresses it holds; and which pod objects exist.
        let mut model: BTreeMap<String, BTreeSet<IpAddr>> = BTreeMap::new();
        let mut pods: BTreeSet<String> = BTreeSet::new();
        for op in ops {
            match op {
                Op::CreatePod(n, p) => {
                    let ns = NAMESPACES[n];
                    state.apply(pod(ns, &format!("p{p}")), Precondition::Any).unwrap();
                    pods.insert(format!("Pod/{ns}/p{p}"));
                }
                Op::Allocate(n, p) => {
                    let (ns, name) = (NAMESPACES[n], format!("p{p}"));
                    let owner = format!("Pod/{ns}/{name}");
                    match state.allocate_pod(ns, &name) {
                        Ok(a) => {
                            prop_assert_eq!(&a.pool, pool_of(ns));
                            let held = model.entry(owner).or_default();
                            if !held.is_empty() {
                                // Idempotent: the same addresses again.
                                prop_assert_eq!(held.iter().copied().collect::<Vec<_>>(), a.addresses.clone());
                            }
                            held.extend(a.addresses);
                        }
                        Err(e) => {
                            let message = e.to_string();
                            prop_assert!(message.contains("are allocated"), "not an exhaustion error: {}", message);
                            let pool = &state.pools[pool_of(ns)];
                            let full = [weft_ipam::Family::V4, weft_ipam::Family::V6]
                                .into_iter()
                                .any(|f| pool.capacity(f) > 0 && pool.used(f) as u128 == pool.capacity(f));
                            prop_assert!(full, "exhaustion reported but no family is full: {}", message);
                            // A failed allocation leaves nothing half-allocated.
                            prop_assert!(!model.contains_key(&owner) || !model[&owner].is_empty());
                        }
                    }
                }
                Op::DeletePod(n, p) => {
                    let owner = format!("Pod/{}/p{p}", NAMESPACES[n]);
                    let key: ResourceKey = owner.parse().unwrap();
                    let existed = pods.remove(&owner);
                    prop_assert_eq!(state.delete(&key, None).is_ok(), existed);
                    if existed {
                        model.remove(&owner);
                    }
                }
                Op::Release(n, p) => {
                    let owner = format!("Pod/{}/p{p}", NAMESPACES[n]);
                    let released = state.release(&owner).unwrap();
                    let held = model.remove(&owner).unwrap_or_default();
                    prop_assert_eq!(released.iter().map(|a| a.address).collect::<BTreeSet<_>>(), held);
                }
                Op::CreateService(s) => {
                    let owner = format!("Service/default/s{s}");
                    match state.apply(service(&format!("s{s}")), Precondition::Any) {
                        Ok((_, Resource::Service(svc))) => {
                            let ip: IpAddr = svc.spec.unwrap().cluster_ip.unwrap().parse().unwrap();
                            model.entry(owner).or_default().insert(ip);
                        }
                        Ok(_) => prop_assert!(false, "not a service"),
                        Err(e) => {
                            let message = e.to_string();
                            prop_assert!(message.contains("are allocated"), "{}", message);
                            prop_assert!(!model.contains_key(&owner));
                        }
                    }
                }
                Op::DeleteService(s) => {
                    let owner = format!("Service/default/s{s}");
                    let key: ResourceKey = owner.parse().unwrap();
                    prop_assert_eq!(state.delete(&key, None).is_ok(), model.remove(&owner).is_some());
                }
                Op::CollectGarbage => {
                    // Grace 0: every allocation whose pod object does not exist goes.
                    let released = state.collect_garbage().unwrap();
                    for a in released {
                        prop_assert!(!pods.contains(&a.owner), "collected {} although it exists", a.owner);
                        model.remove(&a.owner);
                    }
                    model.retain(|owner, _| owner.starts_with("Service/") || pods.contains(owner));
                }
                Op::Restart => {
                    drop(state);
                    state = State::open(&config(dir.path())).unwrap();
                }
            }
            // Invariants after every step.
            let stored = allocations(&state);
            // The model, built from what each call returned, never has one address under two
            // owners: an allocation that reused a held address would show here (and the store,
            // keyed by address, would then disagree with the model below).
            let mut seen = BTreeSet::new();
            for ip in model.values().flatten() {
                prop_assert!(seen.insert(*ip), "{} handed out twice", ip);
            }
            let from_model: BTreeMap<String, BTreeSet<IpAddr>> = {
                let mut m: BTreeMap<String, BTreeSet<IpAddr>> = BTreeMap::new();
                for ((_, ip), owner) in &stored {
                    m.entry(owner.clone()).or_default().insert(*ip);
                }
                m
            };
            let model_nonempty: BTreeMap<String, BTreeSet<IpAddr>> =
                model.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(from_model, model_nonempty);
        }
    }
}

fn endpoint(ns: &str, pod: &str, node: &str) -> Resource {
    object(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: WorkloadEndpoint\nmetadata: {{name: {pod}, namespace: {ns}}}\nspec: {{node: {node}, pod: {pod}, containerID: c-{pod}, interface: eth0}}\n"
    ))
}

#[test]
fn endpoints_get_their_network_and_addresses_at_admission() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::open(&config(dir.path())).unwrap();
    setup(&mut state);
    // The Cluster made the default network; the isolated namespace got one of its own.
    let (_, vns) = state.list(Kind::VirtualNetwork, None).unwrap();
    let names: Vec<&str> = vns.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["default", "lab", "ns-iso"]);
    let vni = |name: &str| match vns.iter().find(|r| r.name() == name) {
        Some(Resource::VirtualNetwork(vn)) => vn.spec.vni,
        _ => panic!("no {name}"),
    };
    assert_eq!(vni("default"), 1);
    assert_eq!(vni("ns-iso"), 4096);
    for (ns, network, prefix) in [
        ("default", "default", "10.244.0."),
        ("lab", "lab", "10.1.0."),
        ("iso", "ns-iso", "10.244.0."),
    ] {
        let (_, stored) = state.apply(endpoint(ns, "p", "node-1"), Precondition::Any).unwrap();
        let Resource::WorkloadEndpoint(w) = stored else {
            panic!()
        };
        assert_eq!(w.spec.network.as_deref(), Some(network));
        assert!(w.spec.addresses[0].starts_with(prefix), "{:?}", w.spec.addresses);
        // Re-applying what the agent knows keeps the addresses.
        let (outcome, _) = state.apply(endpoint(ns, "p", "node-1"), Precondition::Any).unwrap();
        assert_eq!(outcome, weft_api::wire::Outcome::Unchanged);
    }
    // The isolated namespace's network goes with the namespace, and the endpoint's addresses too.
    state
        .delete(&ResourceKey::new(Kind::Namespace, None, "iso"), None)
        .unwrap();
    assert!(
        state
            .get(&ResourceKey::new(Kind::VirtualNetwork, None, "ns-iso"))
            .is_err()
    );
    assert!(allocations(&state).values().all(|owner| !owner.contains("/iso/")));
    // A network with endpoints on it cannot be deleted; the Cluster neither while pods use its pool.
    let err = state
        .delete(&ResourceKey::new(Kind::Cluster, None, "c"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("WorkloadEndpoint/default/p"), "{err}");
}
