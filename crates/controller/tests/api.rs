//! The controller's HTTP API in process: optimistic concurrency under concurrent writers,
//! watches, and error bodies.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use weft_api::wire::Reason;
use weft_api::{Kind, Resource, manifest};
use weft_client::{Client, ClientError};
use weft_controller::ControllerConfig;

/// Starts a controller on a free port; it stops when the test's runtime ends.
async fn controller(dir: &Path) -> Client {
    let ready = dir.join("ready");
    let mut config = ControllerConfig::new(dir.join("data"), "127.0.0.1:0".parse().unwrap());
    config.ready_file = Some(ready.clone());
    tokio::spawn(weft_controller::run(config, std::future::pending()));
    for _ in 0..200 {
        if let Ok(url) = std::fs::read_to_string(&ready) {
            return Client::new(url.trim()).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the controller did not become ready in 5 s");
}

fn namespace(name: &str) -> Resource {
    manifest::parse(
        &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n"),
        "-",
    )
    .unwrap()
    .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_read_modify_write_loses_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let client = controller(dir.path()).await;
    client.apply(&namespace("counter"), false).await.unwrap();
    const WRITERS: usize = 6;
    const INCREMENTS: usize = 10;
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..INCREMENTS {
                loop {
                    // Read, modify, write with the version read: a lost race is a Conflict.
                    let mut ns = client.get(Kind::Namespace, None, "counter").await.unwrap();
                    let labels = ns.meta_mut().labels.get_or_insert_default();
                    let n: usize = labels.get("count").map(|v| v.parse().unwrap()).unwrap_or(0);
                    labels.insert("count".into(), (n + 1).to_string());
                    match client.apply(&ns, false).await {
                        Ok(_) => break,
                        Err(e) if e.reason() == Some(Reason::Conflict) => conflicts += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let ns = client.get(Kind::Namespace, None, "counter").await.unwrap();
    let count = ns.meta().labels.as_ref().unwrap()["count"].clone();
    println!(
        "{} increments by {WRITERS} writers, {conflicts} conflicts retried",
        WRITERS * INCREMENTS
    );
    assert_eq!(count, (WRITERS * INCREMENTS).to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_every_change_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let client = controller(dir.path()).await;
    let (revision, existing) = client.list(Kind::Namespace, None).await.unwrap();
    assert_eq!(existing.len(), 1, "only the default namespace");
    let mut events = Box::pin(client.watch(Kind::Namespace, None, Some(revision)).await.unwrap());
    for name in ["a", "b", "c"] {
        client.apply(&namespace(name), false).await.unwrap();
    }
    client.delete(Kind::Namespace, None, "b", None).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("watch event")
            .unwrap()
            .unwrap();
        let name = event.object["metadata"]["name"].as_str().unwrap().to_string();
        seen.push(format!("{} {name}", event.kind));
    }
    assert_eq!(seen, ["ADDED a", "ADDED b", "ADDED c", "DELETED b"]);
    // A watch without a revision starts with the current objects.
    let mut fresh = Box::pin(client.watch(Kind::Namespace, None, None).await.unwrap());
    let mut names = Vec::new();
    for _ in 0..3 {
        let event = fresh.next().await.unwrap().unwrap();
        assert_eq!(event.kind, "ADDED");
        names.push(event.object["metadata"]["name"].as_str().unwrap().to_string());
    }
    assert_eq!(names, ["a", "c", "default"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_are_refused_with_field_paths() {
    let dir = tempfile::tempdir().unwrap();
    let client = controller(dir.path()).await;
    // Bypass the client-side validation: send the raw object.
    let body = serde_json::json!({
        "apiVersion": "weft.io/v1alpha1", "kind": "VirtualNetwork",
        "metadata": {"name": "blue"}, "spec": {"vni": 5, "subnets": ["10.0.0.0/8", "10.1.0.0/33"]}
    });
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/apply", client.server()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let status: weft_api::wire::Status = response.json().await.unwrap();
    assert_eq!(status.reason, Reason::Invalid);
    assert_eq!(status.causes[0].path, "spec.subnets[1]");
    assert!(
        status
            .message
            .starts_with("VirtualNetwork/blue: spec.subnets[1]: 10.1.0.0/33 is not a valid IPv4 prefix")
    );
    // Unknown kinds and missing objects get their own reasons.
    let err = client.get(Kind::VirtualNetwork, None, "blue").await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Api(s) if s.reason == Reason::NotFound),
        "{err}"
    );
    let response = reqwest::get(format!("{}/api/v1/deployments", client.server()))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    // A resourceVersion that is not a revision is a bad request.
    let response = reqwest::get(format!(
        "{}/api/v1/namespaces?watch=true&resourceVersion=abc",
        client.server()
    ))
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

fn apply_yaml(yaml: &str) -> Resource {
    manifest::parse(yaml, "-").unwrap_or_else(|e| panic!("{e}")).remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_gets_its_slice_then_deltas() {
    use weft_api::sync::{Change, SyncMessage};
    let dir = tempfile::tempdir().unwrap();
    let client = controller(dir.path()).await;
    for yaml in [
        "apiVersion: weft.io/v1alpha1\nkind: Cluster\nmetadata: {name: c}\nspec: {asn: 64512, podCIDRs: [10.244.0.0/16], serviceCIDRs: [10.96.0.0/16]}\n",
        "apiVersion: weft.io/v1alpha1\nkind: Node\nmetadata: {name: n1}\nspec: {vtep: 192.0.2.1, routerMac: '02:00:00:00:00:01', mtu: 1450}\n",
        "apiVersion: weft.io/v1alpha1\nkind: Node\nmetadata: {name: n2}\nspec: {vtep: 192.0.2.2, routerMac: '02:00:00:00:00:02', mtu: 1450}\n",
        "apiVersion: weft.io/v1alpha1\nkind: WorkloadEndpoint\nmetadata: {name: a, namespace: default}\nspec: {node: n1, pod: a, containerID: ca, interface: eth0}\n",
        "apiVersion: weft.io/v1alpha1\nkind: WorkloadEndpoint\nmetadata: {name: b, namespace: default}\nspec: {node: n2, pod: b, containerID: cb, interface: eth0}\n",
    ] {
        client.apply(&apply_yaml(yaml), false).await.unwrap();
    }
    let mut stream = Box::pin(client.sync("n1").await.unwrap());
    let SyncMessage::Snapshot { state, .. } = next_message(&mut stream).await else {
        panic!("no snapshot")
    };
    assert_eq!(state.endpoints.keys().collect::<Vec<_>>(), ["default/a"]);
    assert_eq!(state.networks["default"].vni, 1);
    let route = state.routes.values().next().unwrap();
    assert_eq!(
        (route.node.as_str(), route.vtep.to_string(), route.router_mac.as_str()),
        ("n2", "192.0.2.2".into(), "02:00:00:00:00:02")
    );
    assert!(matches!(next_message(&mut stream).await, SyncMessage::InSync { .. }));
    // A pod on the other node appears as a route; its deletion removes it.
    client
        .apply(&apply_yaml("apiVersion: weft.io/v1alpha1\nkind: WorkloadEndpoint\nmetadata: {name: c, namespace: default}\nspec: {node: n2, pod: c, containerID: cc, interface: eth0}\n"), false)
        .await
        .unwrap();
    let SyncMessage::Delta { changes, .. } = next_message(&mut stream).await else {
        panic!("no delta")
    };
    assert!(
        matches!(&changes[..], [Change::UpsertRoute(r)] if r.node == "n2"),
        "{changes:?}"
    );
    client
        .delete(Kind::WorkloadEndpoint, Some("default"), "c", None)
        .await
        .unwrap();
    let SyncMessage::Delta { changes, .. } = next_message(&mut stream).await else {
        panic!("no delta")
    };
    assert!(matches!(&changes[..], [Change::RemoveRoute { .. }]), "{changes:?}");
    // An unknown node is told so.
    assert_eq!(
        client.sync("n9").await.err().and_then(|e| e.reason()),
        Some(Reason::NotFound)
    );
}

/// The next message that is not a heartbeat, within 10 s.
async fn next_message<S>(s: &mut S) -> weft_api::sync::SyncMessage
where
    S: futures::Stream<Item = Result<weft_api::sync::SyncMessage, ClientError>> + Unpin,
{
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), s.next())
            .await
            .expect("sync message")
            .unwrap()
            .unwrap();
        if !matches!(m, weft_api::sync::SyncMessage::Heartbeat { .. }) {
            return m;
        }
    }
}
