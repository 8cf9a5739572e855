//! The `weft` CLI end to end against a real controller process on loopback: every test starts
//! its own controller (port 0, own data directory, own CLI config).

mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::{
    ChildGuard, Controller, assert_contains, assert_not_contains, examples, expect_code, expect_ok, run, stderr,
    unused_port,
};
use serde_json::Value;

fn examples_arg() -> String {
    examples().display().to_string()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// The whitespace-separated cells of the table row whose first cell (or, with `-A`, second) is
/// `name`.
#[track_caller]
fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&name) || cells.get(1) == Some(&name))
        .unwrap_or_else(|| panic!("no row {name:?} in:\n{table}"))
}

#[track_caller]
fn header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or_else(|| panic!("empty table"))
        .split_whitespace()
        .collect()
}

/// Whether `ip` is inside the prefix `cidr` (std only).
fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, len) = cidr.split_once('/').expect("a prefix");
    let len: u32 = len.parse().expect("a prefix length");
    match (ip.parse::<IpAddr>(), net.parse::<IpAddr>()) {
        (Ok(IpAddr::V4(a)), Ok(IpAddr::V4(n))) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (Ok(IpAddr::V6(a)), Ok(IpAddr::V6(n))) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn items(list: &Value) -> &Vec<Value> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list:#}"))
}

/// name (or namespace/name) -> (resourceVersion, uid) of every object of a kind.
fn versions(c: &Controller, kind: &str) -> BTreeMap<String, (String, String)> {
    let list = c.json(&["get", kind, "-A"]);
    items(&list)
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            let name = match m["namespace"].as_str() {
                Some(ns) => format!("{ns}/{}", m["name"].as_str().unwrap_or_default()),
                None => m["name"].as_str().unwrap_or_default().to_string(),
            };
            (
                name,
                (
                    m["resourceVersion"].as_str().unwrap_or_default().to_string(),
                    m["uid"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

fn allocations(c: &Controller) -> Vec<Value> {
    c.json(&["ipam", "allocations"])
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("ipam allocations -o json is not an array"))
}

fn owners(c: &Controller) -> BTreeSet<String> {
    allocations(c)
        .iter()
        .map(|a| a["owner"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn server_revision(c: &Controller) -> u64 {
    let v = c.json(&["version"]);
    v["serverRevision"]
        .as_u64()
        .unwrap_or_else(|| panic!("no serverRevision in {v:#}"))
}

/// Annotation of the VirtualNetworks the controller creates itself (e.g. a Cluster's default
/// network, an isolated namespace's network).
const OWNED_BY: &str = "weft.io/owned-by";

/// The names of the VirtualNetworks the controller made itself, and of the others.
fn vn_names(c: &Controller) -> (BTreeSet<String>, BTreeSet<String>) {
    let list = c.json(&["get", "vn"]);
    let (owned, users): (Vec<&Value>, Vec<&Value>) = items(&list)
        .iter()
        .partition(|i| i["metadata"]["annotations"].get(OWNED_BY).is_some());
    let names = |v: Vec<&Value>| {
        v.iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    (names(owned), names(users))
}

/// A `weft` command with a fresh config in `dir` and no controller at all.
fn weft_without_controller(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    run(std::process::Command::new(harness::WEFT)
        .env("HOME", dir)
        .env("WEFT_CONFIG", dir.join("weft-config.yaml"))
        .env_remove("WEFT_SERVER")
        .args(args))
}

const EXAMPLE_OBJECTS: [&str; 12] = [
    "bgppeer.weft.io/cloud-b",
    "bgppeer.weft.io/dc-rr",
    "cluster.weft.io/cloud-a",
    "namespace/frontend",
    "namespace/other",
    "namespace/default",
    "virtualnetwork.weft.io/shared",
    "virtualnetwork.weft.io/lab",
    "networkpolicy.networking.k8s.io/default-deny",
    "networkpolicy.networking.k8s.io/web-allow",
    "pod/web-1",
    "service/web",
];

/// `name -> outcome` of `weft apply` output, checking it has one line per object.
#[track_caller]
fn outcomes(out: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in lines(out) {
        let (name, outcome) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("odd apply line {line:?} in:\n{out}"));
        assert!(
            map.insert(name.to_string(), outcome.to_string()).is_none(),
            "{name} printed twice:\n{out}"
        );
    }
    map
}

#[test]
fn apply_examples_creates_then_unchanged_then_configured() {
    let c = Controller::start();
    let first = outcomes(&c.ok(&["apply", "-f", &examples_arg()]));
    let names: BTreeSet<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(EXAMPLE_OBJECTS), "{first:#?}");
    for (name, outcome) in &first {
        // The controller creates Namespace/default itself, as Kubernetes does; the example's
        // is the same object.
        let expected = if name == "namespace/default" {
            "unchanged"
        } else {
            "created"
        };
        assert_eq!(outcome, expected, "first apply of {name}");
    }
    let revision = server_revision(&c);

    let second = outcomes(&c.ok(&["apply", "-f", &examples_arg()]));
    assert_eq!(second.len(), EXAMPLE_OBJECTS.len(), "{second:#?}");
    for (name, outcome) in &second {
        assert_eq!(outcome, "unchanged", "second apply of {name}");
    }
    assert_eq!(server_revision(&c), revision, "an unchanged apply must not write");

    // A copy of the examples with one field changed.
    let copy = c.path("examples-copy");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "yaml") {
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.file_name().unwrap() == "virtual-networks.yaml" {
                assert!(text.contains("vni: 1002"));
                text = text.replace("vni: 1002", "vni: 1003");
            }
            std::fs::write(copy.join(path.file_name().unwrap()), text).unwrap();
        }
    }
    let third = outcomes(&c.ok(&["apply", "-f", &copy.display().to_string()]));
    assert_eq!(third.len(), EXAMPLE_OBJECTS.len(), "{third:#?}");
    for (name, outcome) in &third {
        let expected = if name == "virtualnetwork.weft.io/lab" {
            "configured"
        } else {
            "unchanged"
        };
        assert_eq!(outcome, expected, "third apply of {name}");
    }
    let lab = c.json(&["get", "vn", "lab"]);
    assert_eq!(lab["spec"]["vni"], 1003);
    assert_eq!(lab["metadata"]["generation"], 2);
    assert_eq!(server_revision(&c), revision + 1);
}

#[test]
fn get_tables_formats_short_names_and_selectors() {
    let c = Controller::start();
    c.ok(&["apply", "-f", &examples_arg()]);

    let table = c.ok(&["get", "vn"]);
    assert!(table.starts_with("NAME "), "{table}");
    assert_eq!(
        header(&table),
        ["NAME", "VNI", "SUBNETS", "IMPORT-RTS", "EXPORT-RTS", "IMPORTED", "AGE"]
    );
    // One row per network: the example's two, and any the controller made itself.
    let (owned, users) = vn_names(&c);
    assert_eq!(users, BTreeSet::from(["lab".to_string(), "shared".to_string()]));
    let all: BTreeSet<String> = owned.union(&users).cloned().collect();
    let rows: BTreeSet<String> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(rows, all, "{table}");
    assert_eq!(lines(&table).len(), all.len() + 1, "{table}");
    let shared = row(&table, "shared");
    assert_eq!(
        &shared[..5],
        ["shared", "1001", "<none>", "64512:1001,64513:1001", "64512:1001"]
    );
    let lab = row(&table, "lab");
    assert_eq!(
        &lab[..5],
        ["lab", "1002", "10.1.0.0/24,fd00:1::/64", "<none>", "<none>"]
    );
    // The long names and the group-qualified name list the same.
    assert_eq!(c.ok(&["get", "virtualnetworks"]).lines().count(), all.len() + 1);
    assert_eq!(c.ok(&["get", "virtualnetworks.weft.io"]).lines().count(), all.len() + 1);

    // One object as JSON: itself, with its resourceVersion.
    let one = c.json(&["get", "vn", "shared"]);
    assert_eq!(one["kind"], "VirtualNetwork");
    assert_eq!(one["apiVersion"], "weft.io/v1alpha1");
    assert_eq!(one["metadata"]["name"], "shared");
    let rv = one["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no resourceVersion: {one:#}"));
    assert!(rv.parse::<u64>().is_ok_and(|v| v > 0), "{rv:?}");
    assert_eq!(one["spec"]["vni"], 1001);

    // A list as YAML.
    let yaml = c.ok(&["get", "vn", "-o", "yaml"]);
    let list: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("{e}:\n{yaml}"));
    assert_eq!(list["kind"].as_str(), Some("List"), "{yaml}");
    let yaml_items = list["items"].as_sequence().expect("items");
    let yaml_names: BTreeSet<&str> = yaml_items
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert_eq!(yaml_names, all.iter().map(String::as_str).collect::<BTreeSet<_>>());
    assert!(yaml_items.iter().all(|i| i["kind"].as_str() == Some("VirtualNetwork")));

    // Names.
    assert_eq!(
        lines(&c.ok(&["get", "vn", "-o", "name"])),
        all.iter()
            .map(|n| format!("virtualnetwork.weft.io/{n}"))
            .collect::<Vec<_>>()
    );

    // Wide: the route distinguisher too.
    let wide = c.ok(&["get", "vn", "-o", "wide"]);
    assert_eq!(
        header(&wide),
        [
            "NAME",
            "VNI",
            "SUBNETS",
            "IMPORT-RTS",
            "EXPORT-RTS",
            "IMPORTED",
            "AGE",
            "RD"
        ]
    );
    assert_eq!(row(&wide, "shared").last(), Some(&"192.0.2.10:1001"));
    assert_eq!(row(&wide, "lab").last(), Some(&"<default>"));

    // Pods across namespaces get a NAMESPACE column.
    let pods = c.ok(&["get", "pods", "-A"]);
    assert_eq!(header(&pods), ["NAMESPACE", "NAME", "NODE", "IP", "AGE"]);
    assert_eq!(&row(&pods, "web-1")[..4], ["frontend", "web-1", "node-1", "<none>"]);

    // Short names, per namespace.
    let po = c.ok(&["get", "po", "-n", "frontend"]);
    assert_eq!(header(&po), ["NAME", "NODE", "IP", "AGE"]);
    assert_eq!(&row(&po, "web-1")[..3], ["web-1", "node-1", "<none>"]);
    let out = c.weft(&["get", "po"]);
    assert_eq!(expect_ok(&out, "get po"), "", "default has no pods");
    assert_contains(&stderr(&out), "No resources found in default namespace.");

    let svc = c.ok(&["get", "svc", "-n", "frontend"]);
    assert_eq!(header(&svc), ["NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "AGE"]);
    let web = row(&svc, "web");
    assert_eq!(web[1], "ClusterIP");
    assert_eq!(web[3], "80>http/TCP,53>5353/UDP");

    let netpol = c.ok(&["get", "netpol", "-n", "frontend"]);
    assert_eq!(header(&netpol), ["NAME", "POD-SELECTOR", "AGE"]);
    assert_eq!(row(&netpol, "default-deny")[1], "<none>");
    assert_contains(&netpol, "app=web,tier notin (test)");

    let ns = c.ok(&["get", "ns"]);
    assert_eq!(header(&ns), ["NAME", "NETWORK", "AGE"]);
    assert_eq!(row(&ns, "frontend")[1], "shared");
    assert_eq!(row(&ns, "other")[1], "ns-other");
    assert_eq!(row(&ns, "default")[1], "default");
    assert_eq!(lines(&ns).len(), 4, "{ns}");

    let clusters = c.ok(&["get", "clusters"]);
    assert_eq!(header(&clusters), ["NAME", "AS", "POD-CIDRS", "SERVICE-CIDRS", "AGE"]);
    assert_eq!(
        &row(&clusters, "cloud-a")[..4],
        [
            "cloud-a",
            "64512",
            "10.244.0.0/16,fd00:244::/56",
            "10.96.0.0/16,fd00:96::/112"
        ]
    );

    // Label selectors.
    assert_eq!(
        lines(&c.ok(&["get", "po", "-A", "-l", "app=web", "-o", "name"])),
        ["pod/web-1"]
    );
    let none = c.weft(&["get", "po", "-A", "-l", "app=db"]);
    assert_eq!(expect_ok(&none, "get po -A -l app=db"), "");
    assert_contains(&stderr(&none), "No resources found");
    assert_eq!(
        lines(&c.ok(&["get", "ns", "-l", "team=web", "-o", "name"])),
        ["namespace/frontend"]
    );
    assert_eq!(
        lines(&c.ok(&["get", "ns", "-l", "!team", "-o", "name"])),
        ["namespace/default", "namespace/other"]
    );
    assert_eq!(
        lines(&c.ok(&["get", "ns", "-l", "team!=web", "-o", "name"])),
        ["namespace/default", "namespace/other"]
    );
}

#[test]
fn service_gets_cluster_ips_from_the_service_cidrs() {
    let c = Controller::start();
    c.ok(&["apply", "-f", &examples_arg()]);
    let svc = c.json(&["get", "svc", "web", "-n", "frontend"]);
    assert_eq!(svc["kind"], "Service");
    let spec = &svc["spec"];
    let ips: Vec<&str> = spec["clusterIPs"]
        .as_array()
        .unwrap_or_else(|| panic!("no spec.clusterIPs: {svc:#}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ips.len(), 2, "PreferDualStack with two service CIDRs: {ips:?}");
    assert!(in_cidr(ips[0], "10.96.0.0/16"), "{ips:?}");
    assert!(in_cidr(ips[1], "fd00:96::/112"), "{ips:?}");
    assert_eq!(spec["clusterIP"], ips[0]);
    assert_eq!(spec["ipFamilies"], serde_json::json!(["IPv4", "IPv6"]));
    assert_eq!(spec["ipFamilyPolicy"], "PreferDualStack");

    // Recorded as allocations of the services pool, owned by the Service.
    let services: BTreeSet<String> = allocations(&c)
        .iter()
        .filter(|a| a["owner"] == "Service/frontend/web")
        .map(|a| {
            assert_eq!(a["pool"], "services", "{a}");
            a["address"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(services, ips.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());

    // The table shows them too, and a second apply keeps them.
    let table = c.ok(&["get", "svc", "-n", "frontend"]);
    assert_eq!(row(&table, "web")[2], format!("{},{}", ips[0], ips[1]));
    c.ok(&["apply", "-f", &examples().join("workloads.yaml").display().to_string()]);
    assert_eq!(
        c.json(&["get", "svc", "web", "-n", "frontend"])["spec"]["clusterIPs"],
        serde_json::json!(ips)
    );
}

#[test]
fn get_missing_object_exits_3_and_unknown_kind_exits_2() {
    let c = Controller::start();
    let err = c.fails(3, &["get", "vn", "nope"]);
    assert_contains(&err, "VirtualNetwork/nope");
    let err = c.fails(3, &["get", "po", "nope", "-n", "frontend"]);
    assert_contains(&err, "nope");
    let err = c.fails(2, &["get", "nosuchkind"]);
    assert_contains(&err, "nosuchkind");
    // Usage errors of clap itself are 2 as well.
    c.fails(2, &["get", "vn", "-o", "nosuchformat"]);
}

#[test]
fn invalid_manifest_exits_5_and_creates_nothing() {
    let c = Controller::start();
    let revision = server_revision(&c);
    let file = examples().join("invalid/subnet-length.yaml");
    let err = c.fails(5, &["apply", "-f", &file.display().to_string()]);
    assert_contains(&err, "spec.subnets[1]: 10.1.0.0/33 is not a valid IPv4 prefix");
    assert_contains(&err, "VirtualNetwork/blue");
    c.fails(3, &["get", "vn", "blue"]);

    // One valid and one invalid document: nothing at all is applied.
    let mixed = c.write(
        "mixed.yaml",
        "apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata:\n  name: green\nspec:\n  vni: 42\n\
         ---\n\
         apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata:\n  name: blue\nspec:\n  vni: 16777216\n",
    );
    let err = c.fails(5, &["apply", "-f", &mixed.display().to_string()]);
    assert_contains(&err, "spec.vni");
    assert_contains(&err, "nothing was applied");
    c.fails(3, &["get", "vn", "green"]);
    c.fails(3, &["get", "vn", "blue"]);

    // Two files, the second invalid: the first is not applied either.
    let good = c.write(
        "good.yaml",
        "apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata:\n  name: green\nspec:\n  vni: 42\n",
    );
    c.fails(
        5,
        &[
            "apply",
            "-f",
            &good.display().to_string(),
            "-f",
            &file.display().to_string(),
        ],
    );
    c.fails(3, &["get", "vn", "green"]);
    assert_eq!(server_revision(&c), revision, "nothing may have been written");

    // Each example of an invalid manifest is refused with the message it documents.
    for entry in std::fs::read_dir(examples().join("invalid")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let Some(expect) = text.lines().next().and_then(|l| l.strip_prefix("# expect: ")) else {
            continue;
        };
        let out = c.weft(&["apply", "-f", &path.display().to_string()]);
        let err = expect_code(&out, 5, &format!("apply -f {}", path.display()));
        assert_contains(&err, expect);
    }
    assert_eq!(server_revision(&c), revision, "nothing may have been written");
}

#[test]
fn unreachable_controller_exits_6_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let server = format!("http://127.0.0.1:{}", unused_port());
    for args in [
        vec!["--server", &server, "get", "vn"],
        vec!["--server", &server, "version"],
        vec![
            "--server",
            &server,
            "apply",
            "-f",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/virtual-networks.yaml"),
        ],
        vec!["--server", &server, "delete", "vn", "lab"],
        vec!["--server", &server, "ipam", "pools"],
    ] {
        let out = weft_without_controller(dir.path(), &args);
        let err = expect_code(&out, 6, &args.join(" "));
        assert_contains(&err, "cannot reach the controller");
        assert_contains(&err, &server);
        assert_contains(&err, "hint:");
    }
    // The same through $WEFT_SERVER.
    let out = run(std::process::Command::new(harness::WEFT)
        .env("HOME", dir.path())
        .env("WEFT_CONFIG", dir.path().join("weft-config.yaml"))
        .env("WEFT_SERVER", &server)
        .args(["get", "vn"]));
    expect_code(&out, 6, "get vn (WEFT_SERVER)");
    // A server that is not a URL is a usage error.
    let out = weft_without_controller(dir.path(), &["--server", "127.0.0.1:1", "get", "vn"]);
    assert_contains(&expect_code(&out, 2, "--server 127.0.0.1:1 get vn"), "http://");
}

#[test]
fn applying_a_stale_object_conflicts() {
    let c = Controller::start();
    c.ok(&["apply", "-f", &examples_arg()]);
    let yaml = c.ok(&["get", "vn", "shared", "-o", "yaml"]);
    assert_contains(&yaml, "resourceVersion:");
    assert_contains(&yaml, "vni: 1001");
    let stale = c.write("stale.yaml", &yaml.replace("vni: 1001", "vni: 1021"));
    let other = c.write("other.yaml", &yaml.replace("vni: 1001", "vni: 1011"));

    // Someone else's change first, made from the same read.
    let out = c.ok(&["apply", "-f", &other.display().to_string()]);
    assert_eq!(out.trim(), "virtualnetwork.weft.io/shared configured");

    let err = c.fails(4, &["apply", "-f", &stale.display().to_string()]);
    assert_contains(&err, "resourceVersion");
    assert_contains(&err, "VirtualNetwork/shared");
    assert_eq!(c.json(&["get", "vn", "shared"])["spec"]["vni"], 1011);

    // Read again, change, apply: fine.
    let fresh = c.ok(&["get", "vn", "shared", "-o", "yaml"]);
    let fresh = c.write("fresh.yaml", &fresh.replace("vni: 1011", "vni: 1021"));
    c.ok(&["apply", "-f", &fresh.display().to_string()]);
    assert_eq!(c.json(&["get", "vn", "shared"])["spec"]["vni"], 1021);
}

#[test]
fn delete_by_name_and_by_file() {
    let c = Controller::start();
    c.ok(&["apply", "-f", &examples_arg()]);

    let out = c.ok(&["delete", "vn", "lab"]);
    assert_eq!(out.trim(), "virtualnetwork.weft.io/lab deleted");
    c.fails(3, &["get", "vn", "lab"]);
    let err = c.fails(3, &["delete", "vn", "lab"]);
    assert_contains(&err, "VirtualNetwork/lab");
    let out = c.ok(&["delete", "vn", "lab", "--ignore-not-found"]);
    assert_eq!(out, "");

    let file = examples().join("network-policies.yaml");
    let out = c.ok(&["delete", "-f", &file.display().to_string()]);
    assert_eq!(
        lines(&out).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "networkpolicy.networking.k8s.io/default-deny deleted",
            "networkpolicy.networking.k8s.io/web-allow deleted",
        ])
    );
    let out = c.weft(&["get", "netpol", "-n", "frontend"]);
    assert_eq!(expect_ok(&out, "get netpol -n frontend"), "");
    c.fails(3, &["delete", "-f", &file.display().to_string()]);
    c.ok(&["delete", "-f", &file.display().to_string(), "--ignore-not-found"]);

    // Deleting a pod or a service releases its addresses.
    c.ok(&["ipam", "allocate", "frontend/web-1"]);
    assert!(owners(&c).contains("Pod/frontend/web-1"));
    assert_eq!(
        c.ok(&["delete", "po", "web-1", "-n", "frontend"]).trim(),
        "pod/web-1 deleted"
    );
    assert_eq!(
        c.ok(&["delete", "svc", "web", "-n", "frontend"]).trim(),
        "service/web deleted"
    );
    let left = owners(&c);
    assert!(
        !left.contains("Pod/frontend/web-1") && !left.contains("Service/frontend/web"),
        "{left:?}"
    );

    // A network still in use by a namespace cannot go.
    let err = c.fails(4, &["delete", "vn", "shared"]);
    assert_contains(&err, "frontend");
    c.ok(&["get", "vn", "shared"]);
}

#[test]
fn deleting_a_namespace_deletes_its_objects_and_releases_their_addresses() {
    let c = Controller::start();
    c.ok(&["apply", "-f", &examples_arg()]);
    c.ok(&["ipam", "allocate", "frontend/web-1"]);
    let before = owners(&c);
    assert!(before.contains("Pod/frontend/web-1"), "{before:?}");
    assert!(before.contains("Service/frontend/web"), "{before:?}");

    let out = c.ok(&["delete", "ns", "frontend"]);
    assert_eq!(out.trim(), "namespace/frontend deleted");
    c.fails(3, &["get", "ns", "frontend"]);
    for kind in ["pods", "svc", "netpol"] {
        let out = c.weft(&["get", kind, "-n", "frontend"]);
        assert_eq!(expect_ok(&out, &format!("get {kind} -n frontend")), "");
        assert_contains(&stderr(&out), "No resources found in frontend namespace.");
    }
    let pods = c.json(&["get", "pods", "-A"]);
    assert!(items(&pods).is_empty(), "{pods:#}");
    let after = owners(&c);
    assert!(
        after.iter().all(|o| !o.contains("/frontend/")),
        "addresses of the namespace's objects were not released: {after:?}"
    );
    // The released addresses can be handed out again.
    let pools = c.json(&["ipam", "pools"]);
    for p in pools.as_array().unwrap() {
        let used: u64 = p["used"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(used, 0, "pool still in use: {p}");
    }
}

#[test]
fn contexts_choose_the_controller() {
    let c = Controller::start();
    let bare = |args: &[&str]| run(c.weft_bare().args(args));
    let ok = |args: &[&str]| expect_ok(&bare(args), &args.join(" "));

    let out = ok(&["config", "get-contexts"]);
    assert_eq!(header(&out), ["CURRENT", "NAME", "SERVER", "NAMESPACE"]);
    assert_eq!(lines(&out).len(), 1, "{out}");
    expect_code(&bare(&["config", "current-context"]), 3, "config current-context");

    // A first context becomes the current one; it points nowhere.
    let nowhere = format!("http://127.0.0.1:{}", unused_port());
    assert_eq!(
        ok(&["config", "set-context", "away", "--server", &nowhere]).trim(),
        "Context \"away\" created."
    );
    let out = ok(&["config", "set-context", "lab", "--server", &c.url]);
    assert_eq!(out.trim(), "Context \"lab\" created.");
    let contexts = ok(&["config", "get-contexts"]);
    assert_eq!(&row(&contexts, "away")[..3], ["*", "away", nowhere.as_str()]);
    assert_eq!(&row(&contexts, "lab")[..2], ["lab", c.url.as_str()]);
    expect_code(&bare(&["get", "vn"]), 6, "get vn (context away)");

    let out = ok(&["config", "use-context", "lab"]);
    assert_eq!(out.trim(), "Switched to context \"lab\".");
    let contexts = ok(&["config", "get-contexts"]);
    assert_eq!(&row(&contexts, "lab")[..3], ["*", "lab", c.url.as_str()]);
    assert_eq!(row(&contexts, "away")[0], "away", "{contexts}");
    assert_eq!(ok(&["config", "current-context"]).trim(), "lab");

    // Without --server, commands reach the current context's controller.
    let applied = ok(&["apply", "-f", &examples_arg()]);
    assert_contains(&applied, "virtualnetwork.weft.io/shared created");
    let names = ok(&["get", "vn", "-o", "name"]);
    assert_contains(&names, "virtualnetwork.weft.io/lab\n");
    assert_contains(&names, "virtualnetwork.weft.io/shared\n");
    assert_contains(&ok(&["version"]), &format!("at {}", c.url));
    // --context picks another one for one command.
    expect_code(&bare(&["--context", "away", "get", "vn"]), 6, "--context away");
    expect_code(&bare(&["--context", "nope", "get", "vn"]), 2, "--context nope");
    // $WEFT_SERVER beats the context.
    let out = run(c.weft_bare().env("WEFT_SERVER", &nowhere).args(["get", "vn"]));
    expect_code(&out, 6, "get vn (WEFT_SERVER=nowhere)");

    let err = expect_code(&bare(&["config", "use-context", "nope"]), 3, "config use-context nope");
    assert_contains(&err, "nope");
    assert_eq!(ok(&["config", "current-context"]).trim(), "lab");

    // A context's default namespace.
    ok(&[
        "config",
        "set-context",
        "lab",
        "--server",
        &c.url,
        "--default-namespace",
        "frontend",
    ]);
    assert_eq!(row(&ok(&["get", "po"]), "web-1")[0], "web-1");
    assert_eq!(
        row(&ok(&["config", "get-contexts"]), "lab"),
        ["*", "lab", c.url.as_str(), "frontend"]
    );

    ok(&["config", "delete-context", "away"]);
    assert_not_contains(&ok(&["config", "get-contexts"]), "away");
    let view = ok(&["config", "view"]);
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&view).unwrap();
    assert_eq!(config["currentContext"].as_str(), Some("lab"), "{view}");
    assert!(c.config.exists(), "the config lives in WEFT_CONFIG");
}

#[test]
fn version_of_client_and_server() {
    let c = Controller::start();
    let out = c.ok(&["version"]);
    let version = env!("CARGO_PKG_VERSION");
    assert_contains(&out, &format!("Client Version: {version}"));
    assert_contains(&out, &format!("Server Version: {version}"));
    assert_contains(&out, &c.url);
    let json = c.json(&["version"]);
    assert_eq!(json["clientVersion"], version);
    assert_eq!(json["serverVersion"], version);
    assert_eq!(json["server"], c.url.as_str());
    // The controller created Namespace/default: one revision.
    assert!(json["serverRevision"].as_u64().is_some_and(|r| r >= 1), "{json}");

    // --client needs no controller at all.
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("http://127.0.0.1:{}", unused_port());
    let out = weft_without_controller(dir.path(), &["--server", &nowhere, "version", "--client"]);
    let text = expect_ok(&out, "version --client");
    assert_eq!(text.trim(), format!("Client Version: {version}"));
    let out = weft_without_controller(dir.path(), &["version", "--client", "-o", "json"]);
    let json: Value = serde_json::from_str(&expect_ok(&out, "version --client -o json")).unwrap();
    assert_eq!(json, serde_json::json!({"clientVersion": version}));
}

#[test]
fn ipam_allocates_from_the_namespace_network_and_releases() {
    let c = Controller::start();
    c.ok(&["apply", "-f", &examples_arg()]);

    let a = c.json(&["ipam", "allocate", "frontend/web-1"]);
    assert_eq!(a["namespace"], "frontend");
    assert_eq!(a["name"], "web-1");
    // VirtualNetwork shared has no subnets: the cluster's pod CIDRs.
    assert_eq!(a["network"], "shared");
    assert_eq!(a["pool"], "pods");
    let ips: Vec<String> = a["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ips.len(), 2, "{a:#}");
    assert!(in_cidr(&ips[0], "10.244.0.0/16"), "{ips:?}");
    assert!(in_cidr(&ips[1], "fd00:244::/56"), "{ips:?}");

    // Idempotent.
    let again = c.json(&["ipam", "allocate", "frontend/web-1"]);
    assert_eq!(again["addresses"], a["addresses"]);
    let table = c.ok(&["ipam", "allocate", "frontend/web-1"]);
    assert_eq!(
        row(&table, "frontend/web-1"),
        ["frontend/web-1", "shared", "pods", ips.join(",").as_str()]
    );
    let held: Vec<Value> = allocations(&c)
        .into_iter()
        .filter(|x| x["owner"] == "Pod/frontend/web-1")
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");

    // The pod shows its addresses.
    let wide = c.ok(&["get", "pods", "-n", "frontend", "-o", "wide"]);
    assert_eq!(header(&wide), ["NAME", "NODE", "IP", "AGE", "IPS", "LABELS"]);
    let r = row(&wide, "web-1");
    assert_eq!(r[2], ips[0]);
    assert_eq!(r[4], ips.join(","));
    let pod = c.json(&["get", "po", "web-1", "-n", "frontend"]);
    assert_eq!(pod["status"]["podIP"], ips[0].as_str());

    // A namespace placed on VirtualNetwork lab draws from lab's subnets.
    c.apply_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: science\n  annotations:\n    weft.io/virtual-network: lab\n",
    );
    assert_eq!(row(&c.ok(&["get", "ns"]), "science")[1], "lab");
    let l = c.json(&["ipam", "allocate", "science/sim-1"]);
    assert_eq!(l["network"], "lab");
    assert_eq!(l["pool"], "vn/lab");
    let lab_ips: Vec<&str> = l["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(lab_ips.len(), 2, "{l:#}");
    assert!(in_cidr(lab_ips[0], "10.1.0.0/24"), "{lab_ips:?}");
    assert!(in_cidr(lab_ips[1], "fd00:1::/64"), "{lab_ips:?}");
    // `-n` gives the namespace when the pod is named alone.
    let l2 = c.json(&["ipam", "allocate", "sim-2", "-n", "science"]);
    assert_eq!(l2["namespace"], "science");
    assert_eq!(l2["pool"], "vn/lab");
    assert_ne!(l2["addresses"], l["addresses"]);

    let pools = c.json(&["ipam", "pools"]);
    let names: BTreeSet<&str> = pools
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["pods", "services", "vn/lab"]));

    // Release.
    let out = c.ok(&["ipam", "release", "Pod/frontend/web-1"]);
    let released: BTreeSet<&str> = lines(&out).into_iter().collect();
    assert_eq!(
        released,
        BTreeSet::from([
            format!("{} released from pods", ips[0]).as_str(),
            format!("{} released from pods", ips[1]).as_str(),
        ])
    );
    assert!(!owners(&c).contains("Pod/frontend/web-1"));
    let err = c.fails(3, &["ipam", "release", "Pod/frontend/web-1"]);
    assert_contains(&err, "holds no addresses");

    // With the default grace period (5m), nothing young is collected.
    c.ok(&["ipam", "allocate", "frontend/never-applied"]);
    assert_eq!(c.ok(&["ipam", "gc"]).trim(), "0 addresses released");
    assert!(owners(&c).contains("Pod/frontend/never-applied"));
}

#[test]
fn ipam_gc_releases_addresses_whose_pod_does_not_exist() {
    let c = Controller::start_with(&["--gc-grace", "0s"]);
    c.ok(&["apply", "-f", &examples_arg()]);
    c.ok(&["ipam", "allocate", "frontend/web-1"]);
    let ghost = c.json(&["ipam", "allocate", "frontend/ghost"]);
    let ghost_ips: Vec<&str> = ghost["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ghost_ips.len(), 2);

    let out = c.ok(&["ipam", "gc"]);
    for ip in &ghost_ips {
        assert_contains(
            &out,
            &format!("{ip} released from pods (owner Pod/frontend/ghost is gone)"),
        );
    }
    assert_eq!(lines(&out).last(), Some(&"2 addresses released"), "{out}");
    let after = owners(&c);
    assert!(!after.contains("Pod/frontend/ghost"), "{after:?}");
    assert!(after.contains("Pod/frontend/web-1"), "{after:?}");
    assert!(after.contains("Service/frontend/web"), "{after:?}");
    assert_eq!(c.ok(&["ipam", "gc"]).trim(), "0 addresses released");
}

/// Reads the lines of a child's stdout on a thread.
fn line_reader(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line satisfying `pred`; panics with everything seen after `timeout`.
#[track_caller]
fn wait_line(
    rx: &std::sync::mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if pred(&line) {
                    return line;
                }
            }
            Err(_) => panic!("no line {what} within {timeout:?}; saw:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn get_watch_prints_changes() {
    let c = Controller::start();
    c.ok(&[
        "apply",
        "-f",
        &examples().join("virtual-networks.yaml").display().to_string(),
    ]);
    let child = c
        .weft_cmd()
        .args(["get", "vn", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning weft get vn -w");
    let mut watcher = ChildGuard::new(child, "weft get vn -w");
    let rx = line_reader(watcher.child());
    let mut seen = Vec::new();
    let t = Duration::from_secs(10);
    wait_line(&rx, &mut seen, t, "with the header", |l| l.starts_with("NAME"));
    wait_line(&rx, &mut seen, t, "for shared", |l| l.starts_with("shared"));

    c.apply_text("apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata:\n  name: blue\nspec:\n  vni: 7\n");
    let line = wait_line(&rx, &mut seen, t, "ADDED blue", |l| {
        (l.contains("ADDED") || l.contains("MODIFIED")) && l.contains("blue")
    });
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cells[..3], ["ADDED", "blue", "7"], "{line}");

    c.apply_text("apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata:\n  name: blue\nspec:\n  vni: 8\n");
    let line = wait_line(&rx, &mut seen, t, "MODIFIED blue", |l| {
        l.contains("MODIFIED") && l.contains("blue")
    });
    assert_eq!(
        &line.split_whitespace().collect::<Vec<_>>()[..3],
        ["MODIFIED", "blue", "8"]
    );

    c.ok(&["delete", "vn", "blue"]);
    wait_line(&rx, &mut seen, t, "DELETED blue", |l| {
        l.contains("DELETED") && l.contains("blue")
    });
    assert!(!watcher.exited(), "the watch ended early; saw:\n{}", seen.join("\n"));
    watcher.kill();
}

#[test]
fn restart_keeps_objects_versions_and_allocations() {
    let mut c = Controller::start();
    c.ok(&["apply", "-f", &examples_arg()]);
    c.ok(&["ipam", "allocate", "frontend/web-1"]);
    c.ok(&["delete", "vn", "lab"]);
    let kinds = ["ns", "po", "svc", "netpol", "vn", "clusters"];
    let before: Vec<_> = kinds.iter().map(|k| versions(&c, k)).collect();
    assert!(before[4].contains_key("shared") && !before[4].contains_key("lab"));
    let revision = server_revision(&c);
    let allocated: BTreeSet<String> = allocations(&c)
        .iter()
        .map(|a| format!("{} {} {}", a["pool"], a["address"], a["owner"]))
        .collect();
    let pod = c.json(&["get", "po", "web-1", "-n", "frontend"]);

    let status = c.terminate(Duration::from_secs(10));
    assert!(status.success(), "controller exit on SIGTERM: {status}");
    let out = c.weft(&["get", "vn"]);
    expect_code(&out, 6, "get vn (controller stopped)");
    c.start_again();

    let after: Vec<_> = kinds.iter().map(|k| versions(&c, k)).collect();
    for ((kind, b), a) in kinds.iter().zip(&before).zip(&after) {
        assert_eq!(b, a, "{kind} after restart");
    }
    assert_eq!(server_revision(&c), revision);
    let allocated_after: BTreeSet<String> = allocations(&c)
        .iter()
        .map(|a| format!("{} {} {}", a["pool"], a["address"], a["owner"]))
        .collect();
    assert_eq!(allocated, allocated_after);
    assert_eq!(c.json(&["get", "po", "web-1", "-n", "frontend"]), pod);

    // The pools were rebuilt from the store: the same pod gets the same addresses, a new one
    // gets different ones.
    let again = c.json(&["ipam", "allocate", "frontend/web-1"]);
    assert_eq!(
        again["addresses"],
        pod["status"]["podIPs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["ip"].clone())
            .collect::<Value>()
    );
    let other = c.json(&["ipam", "allocate", "frontend/web-2"]);
    for ip in other["addresses"].as_array().unwrap() {
        assert!(
            !again["addresses"].as_array().unwrap().contains(ip),
            "{ip} handed out twice after a restart"
        );
    }
    // Applying the same manifests again changes nothing.
    let out = outcomes(&c.ok(&["apply", "-f", &examples().join("namespaces.yaml").display().to_string()]));
    assert!(out.values().all(|o| o == "unchanged"), "{out:?}");
}

/// A controller told to stop must stop, even while a client is watching: otherwise every
/// `weft get -w` (or agent watch) keeps it alive past SIGTERM until it is SIGKILLed.
#[test]
fn sigterm_stops_the_controller_while_a_watch_is_open() {
    let mut c = Controller::start();
    let child = c
        .weft_cmd()
        .args(["get", "ns", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning weft get ns -w");
    let mut watcher = ChildGuard::new(child, "weft get ns -w");
    let rx = line_reader(watcher.child());
    let mut seen = Vec::new();
    wait_line(&rx, &mut seen, Duration::from_secs(10), "for default", |l| {
        l.starts_with("default")
    });
    let status = c.terminate(Duration::from_secs(5));
    assert!(status.success(), "controller exit on SIGTERM: {status}");
    // The watcher notices the end of its stream.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !watcher.exited() {
        assert!(Instant::now() < deadline, "the watch did not end with its controller");
        std::thread::sleep(Duration::from_millis(10));
    }
}
