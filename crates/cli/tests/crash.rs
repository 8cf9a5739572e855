//! kill -9 durability: a controller killed at a random moment in the middle of a stream of writes
//! keeps every write it acknowledged, and nothing it was never sent.
//!
//! Each round starts the controller on the same data directory, has one writer thread send
//! VirtualNetworks one after another straight over HTTP (a minimal hand-written HTTP/1.1 client,
//! so that hundreds of writes fit in the time), and SIGKILLs the controller after a short
//! pseudo-random delay. Writes are creates of new names and updates of earlier ones; every write
//! carries a unique VNI, so the VNI stored for a name says which write it is.

mod harness;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use harness::Controller;
use serde_json::{Value, json};

const ROUNDS: u64 = 16;
/// Concurrent writers, each with names of its own (so each name's writes are in order).
const WRITERS: u64 = 2;

/// xorshift64*: deterministic, seeded per round, no crates.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// An annotation whose value depends on the VNI, so that a torn or mixed-up write shows.
fn payload(vni: u64) -> String {
    let mut text = String::with_capacity(256);
    let mut x = vni;
    while text.len() < 240 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        text.push_str(&format!("{:016x}", x));
    }
    text
}

fn body(name: &str, vni: u64) -> Value {
    json!({
        "apiVersion": "weft.io/v1alpha1",
        "kind": "VirtualNetwork",
        "metadata": {
            "name": name,
            "labels": {"written-by": "crash-test"},
            "annotations": {"crash-test/payload": payload(vni)},
        },
        "spec": {"vni": vni},
    })
}

/// A response: its status code and body.
struct Response {
    status: u16,
    body: Vec<u8>,
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to the end. An error
/// means the controller is gone (or went away mid-request).
fn http(addr: &str, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(b) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&bytes)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(bad("no status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not HTTP/1"));
    }
    let status: u16 = code.parse().map_err(|_| bad("bad status code"))?;
    let rest = &raw[head_end + 4..];
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(rest).ok_or_else(|| bad("truncated chunked body"))?
    } else {
        let length = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        });
        match length {
            Some(n) if rest.len() >= n => rest[..n].to_vec(),
            Some(_) => return Err(bad("truncated body")),
            None => rest.to_vec(),
        }
    };
    Ok(Response { status, body })
}

/// One write the test sent.
#[derive(Debug, Clone)]
struct Sent {
    name: String,
    vni: u64,
    /// The resourceVersion the controller answered with, when it answered 200.
    acked: Option<u64>,
    outcome: Option<String>,
}

/// What one round's writer did.
struct RoundLog {
    writes: Vec<Sent>,
    /// A complete answer that was not 200: a bug, reported after the round.
    unexpected: Vec<String>,
}

/// Sends writes until the controller goes away (or `stop`, as a safety net).
fn writer(
    addr: String,
    round: u64,
    id: u64,
    vnis: Arc<AtomicU64>,
    mut known: Vec<String>,
    stop: Arc<AtomicBool>,
) -> RoundLog {
    let mut rng = Rng::new(0xC0FFEE ^ (round << 32) ^ (id << 48));
    let mut log = RoundLog {
        writes: Vec::new(),
        unexpected: Vec::new(),
    };
    let mut created = 0;
    while !stop.load(Ordering::Relaxed) {
        // A quarter of the writes update an earlier object, the rest create new ones.
        let name = if !known.is_empty() && rng.next().is_multiple_of(4) {
            known[(rng.next() % known.len() as u64) as usize].clone()
        } else {
            created += 1;
            let n = format!("crash-w{id}-r{round}-{created}");
            known.push(n.clone());
            n
        };
        let vni = vnis.fetch_add(1, Ordering::Relaxed);
        let bytes = serde_json::to_vec(&body(&name, vni)).expect("serializing");
        log.writes.push(Sent {
            name,
            vni,
            acked: None,
            outcome: None,
        });
        match http(&addr, "POST", "/api/v1/apply", Some(&bytes)) {
            Ok(r) if r.status == 200 => {
                // `http` checked the body's length: a 200 is a whole answer.
                let Ok(answer) = serde_json::from_slice::<Value>(&r.body) else {
                    log.unexpected.push(format!(
                        "200 with a body that is not JSON: {}",
                        String::from_utf8_lossy(&r.body)
                    ));
                    break;
                };
                let w = log.writes.last_mut().expect("just pushed");
                w.outcome = answer["outcome"].as_str().map(str::to_string);
                w.acked = answer["object"]["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse().ok());
                if w.acked.is_none() {
                    log.unexpected.push(format!("200 without a resourceVersion: {answer}"));
                }
            }
            Ok(r) => {
                log.unexpected.push(format!(
                    "HTTP {} for {}: {}",
                    r.status,
                    log.writes.last().map(|w| w.name.as_str()).unwrap_or(""),
                    String::from_utf8_lossy(&r.body)
                ));
                break;
            }
            // Refused, reset or cut short: the controller was killed.
            Err(_) => break,
        }
    }
    log
}

/// Every name's writes, in the order sent.
type History = BTreeMap<String, Vec<Sent>>;

/// Checks a listing of VirtualNetworks against what was sent: every acknowledged write's object
/// is there, with the content of the last acknowledged write or of a later unacknowledged one;
/// nothing is there that was never sent; every object is whole.
fn check(history: &History, items: &[Value], when: &str) {
    let mut present: BTreeMap<&str, &Value> = BTreeMap::new();
    for item in items {
        let name = item["metadata"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{when}: an object without a name: {item}"));
        assert!(present.insert(name, item).is_none(), "{when}: {name} listed twice");
    }
    for (name, item) in &present {
        if item["metadata"]["annotations"].get("weft.io/owned-by").is_some() {
            // A network the controller made itself (it has none here: no Cluster, no isolated
            // namespace), not one of the writes.
            continue;
        }
        let writes = history
            .get(*name)
            .unwrap_or_else(|| panic!("{when}: {name} is there but was never sent: {item}"));
        let vni = item["spec"]["vni"]
            .as_u64()
            .unwrap_or_else(|| panic!("{when}: {name} has no vni: {item}"));
        let write = writes
            .iter()
            .find(|w| w.vni == vni)
            .unwrap_or_else(|| panic!("{when}: {name} has vni {vni}, which was never sent for it: {item}"));
        // Whole: exactly the body sent, plus what the server stamps.
        let sent = body(name, vni);
        assert_eq!(item["spec"], sent["spec"], "{when}: {name}");
        assert_eq!(
            item["metadata"]["annotations"], sent["metadata"]["annotations"],
            "{when}: {name}: a torn or mixed-up write"
        );
        assert_eq!(item["metadata"]["labels"], sent["metadata"]["labels"], "{when}: {name}");
        assert_eq!(item["kind"], "VirtualNetwork");
        let rv: u64 = item["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{when}: {name} has no resourceVersion: {item}"));
        if let Some(acked) = write.acked {
            assert_eq!(
                rv, acked,
                "{when}: {name} (vni {vni}) has resourceVersion {rv}, the controller acknowledged {acked}"
            );
        }
        // Not older than the last acknowledged write.
        let last_acked = writes.iter().rposition(|w| w.acked.is_some());
        let this = writes.iter().position(|w| w.vni == vni).unwrap_or(0);
        if let Some(last) = last_acked {
            assert!(
                this >= last,
                "{when}: {name} lost an acknowledged write: it has vni {vni} (write #{this}), but write #{last} (vni {}) was acknowledged",
                writes[last].vni
            );
        }
    }
    for (name, writes) in history {
        if let Some(w) = writes.iter().rev().find(|w| w.acked.is_some()) {
            assert!(
                present.contains_key(name.as_str()),
                "{when}: {name} is missing; its write with vni {} was acknowledged at resourceVersion {:?}",
                w.vni,
                w.acked
            );
        }
    }
}

fn list_over_http(addr: &str) -> Vec<Value> {
    let r =
        http(addr, "GET", "/api/v1/virtualnetworks", None).unwrap_or_else(|e| panic!("listing VirtualNetworks: {e}"));
    assert_eq!(
        r.status,
        200,
        "listing VirtualNetworks: {}",
        String::from_utf8_lossy(&r.body)
    );
    let list: Value = serde_json::from_slice(&r.body).expect("a JSON list");
    list["items"].as_array().cloned().expect("items")
}

#[test]
fn kill_9_keeps_every_acknowledged_write() {
    let started = Instant::now();
    let mut c = Controller::start();
    let mut history: History = BTreeMap::new();
    let vnis = Arc::new(AtomicU64::new(100_000));
    let mut acked_total = 0usize;
    let mut acked_creates = 0usize;
    let mut max_rv = 0u64;
    let mut per_round = Vec::new();
    for round in 0..ROUNDS {
        if round > 0 {
            // The store must reopen after every kill.
            c.start_again();
            check(&history, &list_over_http(c.addr()), &format!("after kill {round}"));
        }
        let mut rng = Rng::new(round + 1);
        let delay = Duration::from_millis(rng.range(20, 300));
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..WRITERS)
            .map(|id| {
                let prefix = format!("crash-w{id}-");
                let known: Vec<String> = history.keys().filter(|n| n.starts_with(&prefix)).cloned().collect();
                let (addr, stop, vnis) = (c.addr().to_string(), stop.clone(), vnis.clone());
                std::thread::spawn(move || writer(addr, round, id, vnis, known, stop))
            })
            .collect();
        std::thread::sleep(delay);
        c.kill_9();
        stop.store(true, Ordering::Relaxed);
        let (mut sent, mut acked_round) = (0, 0);
        for (id, thread) in threads.into_iter().enumerate() {
            let log = thread.join().expect("a writer panicked");
            assert!(
                log.unexpected.is_empty(),
                "round {round}, writer {id}: unexpected answers: {:#?}",
                log.unexpected
            );
            // One writer's writes are sequential: their resourceVersions grow.
            let mut last_rv = 0;
            for w in log.writes.iter().filter(|w| w.acked.is_some()) {
                let rv = w.acked.unwrap_or_default();
                assert!(
                    rv > last_rv,
                    "round {round}: resourceVersions must grow: {} acknowledged at {rv} after {last_rv}",
                    w.name
                );
                last_rv = rv;
                max_rv = max_rv.max(rv);
                match w.outcome.as_deref() {
                    Some("created") => acked_creates += 1,
                    Some("configured") => {}
                    other => panic!("round {round}: {} acknowledged as {other:?}", w.name),
                }
                acked_round += 1;
            }
            sent += log.writes.len();
            for w in log.writes {
                history.entry(w.name.clone()).or_default().push(w);
            }
        }
        acked_total += acked_round;
        per_round.push((delay.as_millis(), sent, acked_round));
    }
    assert!(
        acked_total >= ROUNDS as usize,
        "too few writes to test anything: {per_round:?}"
    );

    // Last: restart and look through the CLI.
    c.start_again();
    let list = c.json(&["get", "vn"]);
    let items = list["items"].as_array().cloned().unwrap_or_default();
    check(&history, &items, "at the end (weft get vn -o json)");
    let version = c.json(&["version"]);
    let revision = version["serverRevision"]
        .as_u64()
        .unwrap_or_else(|| panic!("no serverRevision: {version}"));
    assert!(
        revision >= acked_creates as u64,
        "store revision {revision} < {acked_creates} acknowledged creates"
    );
    // Every acknowledged write changed its object (each carries a new VNI): one revision each.
    assert!(
        revision >= acked_total as u64 && revision >= max_rv,
        "store revision {revision} is behind: {acked_total} acknowledged changes, highest acknowledged resourceVersion {max_rv}"
    );
    println!(
        "crash test: {ROUNDS} kills, {acked_total} acknowledged writes ({acked_creates} creates) by {WRITERS} writers, all present; {} objects, store revision {revision}; rounds (delay ms, sent, acknowledged): {per_round:?}; {:.1}s",
        items.len(),
        started.elapsed().as_secs_f64()
    );
}
