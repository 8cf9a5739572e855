//! The lab pods' application: a tiny HTTP server and UDP echo on one port, answering with the
//! pod's name, so that a probe proves which pod it reached over which protocol. Run inside the
//! pod's namespace as `weft lab serve --name NAME --port PORT...`.

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// What a probe expects in every answer.
pub fn greeting(name: &str) -> String {
    format!("hello from {name}\n")
}

fn answer(mut stream: TcpStream, body: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    // Read the request head (or whatever comes within the timeout); any request gets the page.
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// Serves TCP (HTTP) and UDP (echo of the greeting) on every port of `ports`, IPv4 and IPv6,
/// until killed.
pub fn serve(name: &str, ports: &[u16]) -> std::io::Result<()> {
    let body = greeting(name);
    let mut listeners = Vec::new();
    for &port in ports {
        // An IPv6 wildcard socket takes IPv4 too (net.ipv6.bindv6only is 0 in a new namespace).
        let any = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
        let tcp = TcpListener::bind(any)?;
        let udp = UdpSocket::bind(any)?;
        let udp_body = body.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            loop {
                if let Ok((_, from)) = udp.recv_from(&mut buf) {
                    let _ = udp.send_to(udp_body.as_bytes(), from);
                }
            }
        });
        listeners.push(tcp);
    }
    let handles: Vec<_> = listeners
        .into_iter()
        .map(|tcp| {
            let body = body.clone();
            std::thread::spawn(move || {
                for stream in tcp.incoming().flatten() {
                    let body = body.clone();
                    std::thread::spawn(move || answer(stream, &body));
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}
