//! Test support: network namespaces created with unique names, wired only among themselves
//! (never to the host's namespace), deleted when the guard drops, also after a panic; and
//! probes (TCP, UDP, ICMP) between namespaces, run on threads that enter them.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A set of namespaces owned by one test.
pub struct Namespaces {
    prefix: String,
    names: Vec<String>,
}

impl Namespaces {
    pub fn new(test: &str) -> Namespaces {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        Namespaces {
            prefix: format!("wt-{test}-{}-{n}", std::process::id()),
            names: Vec::new(),
        }
    }

    /// Creates `<prefix>-<role>` with its loopback up; returns its name.
    pub fn add(&mut self, role: &str) -> String {
        let name = format!("{}-{role}", self.prefix);
        ip(&["netns", "add", &name]);
        self.names.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        name
    }

    pub fn path(name: &str) -> String {
        format!("/var/run/netns/{name}")
    }

    /// A veth between two of them (created inside the first, its peer moved straight to the
    /// second), with addresses, up. Each end is (namespace, interface, address/len).
    pub fn link(&self, (a, a_if, a_addr): (&str, &str, &str), (b, b_if, b_addr): (&str, &str, &str), mtu: u32) {
        ip(&[
            "-n",
            a,
            "link",
            "add",
            a_if,
            "mtu",
            &mtu.to_string(),
            "type",
            "veth",
            "peer",
            "name",
            b_if,
            "netns",
            b,
        ]);
        ip(&["-n", b, "link", "set", b_if, "mtu", &mtu.to_string()]);
        ip(&["-n", a, "addr", "add", a_addr, "dev", a_if]);
        ip(&["-n", b, "addr", "add", b_addr, "dev", b_if]);
        ip(&["-n", a, "link", "set", a_if, "up"]);
        ip(&["-n", b, "link", "set", b_if, "up"]);
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.names.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// Accepts one connection within `within`, or gives up (a probe must never hang a test).
fn accept_within(listener: &TcpListener, within: Duration) -> Option<TcpStream> {
    listener.set_nonblocking(true).ok()?;
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).ok()?;
                return Some(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => return None,
        }
    }
    None
}

fn wildcard(ip: IpAddr, port: u16) -> SocketAddr {
    if ip.is_ipv4() {
        format!("0.0.0.0:{port}")
    } else {
        format!("[::]:{port}")
    }
    .parse()
    .unwrap()
}

/// Opens a TCP connection from `client` to `server_ip:port` where `server` listens, sends a
/// line and expects it echoed, within a few seconds.
pub fn tcp_works(client: &str, server: &str, server_ip: IpAddr, port: u16) -> bool {
    use std::io::{Read, Write};
    let server_ns = NetNs::open(&Namespaces::path(server)).unwrap();
    let client_ns = NetNs::open(&Namespaces::path(client)).unwrap();
    let bind = wildcard(server_ip, port);
    let listener = server_ns.run(move || TcpListener::bind(bind)).unwrap().unwrap();
    let echo = std::thread::spawn(move || {
        if let Some(mut s) = accept_within(&listener, Duration::from_secs(3)) {
            let mut buf = [0u8; 64];
            s.set_read_timeout(Some(Duration::from_secs(3))).ok();
            if let Ok(n) = s.read(&mut buf) {
                let _ = s.write_all(&buf[..n]);
            }
        }
    });
    let target = SocketAddr::new(server_ip, port);
    let ok = client_ns
        .run(move || -> bool {
            let Ok(mut s) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
                return false;
            };
            s.set_read_timeout(Some(Duration::from_secs(2))).ok();
            if s.write_all(b"weft\n").is_err() {
                return false;
            }
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).is_ok() && &buf == b"weft\n"
        })
        .unwrap();
    let _ = echo.join();
    ok
}

/// Sends a UDP datagram and expects it echoed.
pub fn udp_works(client: &str, server: &str, server_ip: IpAddr, port: u16) -> bool {
    let server_ns = NetNs::open(&Namespaces::path(server)).unwrap();
    let client_ns = NetNs::open(&Namespaces::path(client)).unwrap();
    let bind = wildcard(server_ip, port);
    let socket = server_ns.run(move || UdpSocket::bind(bind)).unwrap().unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(3))).ok();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    let target = SocketAddr::new(server_ip, port);
    let ok = client_ns
        .run(move || -> bool {
            let local: SocketAddr = if server_ip.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
                .parse()
                .unwrap();
            let Ok(s) = UdpSocket::bind(local) else { return false };
            s.set_read_timeout(Some(Duration::from_secs(1))).ok();
            for _ in 0..3 {
                if s.send_to(b"weft", target).is_err() {
                    return false;
                }
                let mut buf = [0u8; 8];
                if let Ok((4, _)) = s.recv_from(&mut buf) {
                    return &buf[..4] == b"weft";
                }
            }
            false
        })
        .unwrap();
    if !ok {
        // Wake the echo thread so the test does not wait for its timeout twice.
        let _ = server_ns.run(move || {
            UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.send_to(b"x", SocketAddr::new("127.0.0.1".parse().unwrap(), port)))
        });
    }
    let _ = echo.join();
    ok
}

/// `ping -c 1` from a namespace.
pub fn ping(from: &str, to: IpAddr) -> bool {
    Command::new("ip")
        .args(["netns", "exec", from, "ping", "-c", "1", "-W", "1", &to.to_string()])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub use weft_netns::NetNs;

/// Sends `bytes` over one TCP connection from `client` to `server_ip:port` in `server`; returns
/// how many bytes the server received.
pub fn tcp_transfer(client: &str, server: &str, server_ip: IpAddr, port: u16, bytes: usize) -> usize {
    use std::io::{Read, Write};
    let server_ns = NetNs::open(&Namespaces::path(server)).unwrap();
    let client_ns = NetNs::open(&Namespaces::path(client)).unwrap();
    let bind = wildcard(server_ip, port);
    let listener = server_ns.run(move || TcpListener::bind(bind)).unwrap().unwrap();
    let sink = std::thread::spawn(move || {
        let Some(mut s) = accept_within(&listener, Duration::from_secs(5)) else {
            return 0;
        };
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut total = 0;
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    let target = SocketAddr::new(server_ip, port);
    client_ns
        .run(move || {
            if let Ok(mut s) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) {
                let chunk = vec![0x5au8; 1 << 16];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if s.write_all(&chunk[..n]).is_err() {
                        break;
                    }
                    left -= n;
                }
            }
        })
        .unwrap();
    sink.join().unwrap_or(0)
}

/// An established TCP connection between two namespaces: (client side, server side). The
/// sockets stay in their namespaces and can be used from any thread, e.g. to show that a
/// connection survives something.
pub fn tcp_connection(client: &str, server: &str, server_ip: IpAddr, port: u16) -> Option<(TcpStream, TcpStream)> {
    let server_ns = NetNs::open(&Namespaces::path(server)).ok()?;
    let client_ns = NetNs::open(&Namespaces::path(client)).ok()?;
    let bind = wildcard(server_ip, port);
    let listener = server_ns.run(move || TcpListener::bind(bind)).ok()?.ok()?;
    let accepting = std::thread::spawn(move || accept_within(&listener, Duration::from_secs(3)));
    let target = SocketAddr::new(server_ip, port);
    let client_side = client_ns
        .run(move || TcpStream::connect_timeout(&target, Duration::from_secs(2)))
        .ok()?
        .ok()?;
    let server_side = accepting.join().ok()??;
    for s in [&client_side, &server_side] {
        s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    }
    Some((client_side, server_side))
}

/// Sends a message each way over an established connection.
pub fn exchange(client: &mut TcpStream, server: &mut TcpStream, message: &[u8]) -> bool {
    use std::io::{Read, Write};
    let mut buf = vec![0u8; message.len()];
    let there = client.write_all(message).is_ok() && server.read_exact(&mut buf).is_ok() && buf == message;
    there && server.write_all(message).is_ok() && client.read_exact(&mut buf).is_ok() && buf == message
}
