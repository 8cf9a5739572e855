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
