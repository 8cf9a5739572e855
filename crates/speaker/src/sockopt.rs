//! The socket options BGP needs that neither std nor tokio sets: TCP MD5 signatures (RFC 2385)
//! and GTSM (RFC 5082), plus IPV6_V6ONLY for a listener. The only unsafe code of the crate.

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use nix::libc;

/// The longest key Linux accepts (TCP_MD5SIG_MAXKEYLEN).
pub const MD5_MAX_KEY_LEN: usize = 80;

/// `struct tcp_md5sig` of <linux/tcp.h>.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: u32,
    key: [u8; MD5_MAX_KEY_LEN],
}

fn setsockopt<T>(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    let len = libc::socklen_t::try_from(std::mem::size_of::<T>()).map_err(io::Error::other)?;
    // SAFETY: `value` is a live, properly aligned `T` of `len` bytes; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets (or with `None` removes) the TCP MD5 key for segments to and from `peer` on a socket: a
/// listener (per peer) or a socket before it connects.
pub fn set_md5(fd: &impl AsRawFd, peer: IpAddr, key: Option<&str>) -> io::Result<()> {
    let key = key.unwrap_or_default().as_bytes();
    if key.len() > MD5_MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP MD5 key longer than 80 octets",
        ));
    }
    // SAFETY: all-zero is a valid sockaddr_storage (and a valid TcpMd5Sig).
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    match peer.to_canonical() {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&mut sig.addr as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
        }
        IpAddr::V6(a) => {
            // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut sig.addr as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.octets();
        }
    }
    sig.keylen = key.len() as u16;
    if let Some(dst) = sig.key.get_mut(..key.len()) {
        dst.copy_from_slice(key);
    }
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

/// GTSM (RFC 5082): send with TTL (hop limit) 255, accept only segments that arrive with at least
/// `min_ttl` (254: one hop away, 255: directly connected).
pub fn set_gtsm(fd: &impl AsRawFd, ipv6: bool, min_ttl: u8) -> io::Result<()> {
    let ttl: libc::c_int = 255;
    let min: libc::c_int = min_ttl.into();
    if ipv6 {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &ttl)?;
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &min)
    } else {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &ttl)?;
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &min)
    }
}

/// IPV6_V6ONLY, so that an IPv6 listener does not take IPv4 connections too.
pub fn set_v6only(fd: &impl AsRawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &on)
}

#[cfg(test)]
mod tests {
    use std::os::fd::{FromRawFd, IntoRawFd};

    use super::*;

    /// A TCP socket that is never bound or connected (no namespace's ports are touched).
    fn socket() -> std::net::TcpStream {
        let fd = tokio::net::TcpSocket::new_v4().unwrap().into_raw_fd();
        // SAFETY: `fd` was just released by its owner and is owned by the stream from here on.
        unsafe { std::net::TcpStream::from_raw_fd(fd) }
    }

    #[test]
    fn gtsm_sets_ttl_255() {
        let s = socket();
        set_gtsm(&s, false, 254).unwrap();
        assert_eq!(s.ttl().unwrap(), 255);
    }

    #[test]
    fn md5_key_set_and_removed() {
        let s = socket();
        let peer: IpAddr = "192.0.2.2".parse().unwrap();
        set_md5(&s, peer, Some("s3cret")).unwrap();
        set_md5(&s, peer, None).unwrap();
        let long = "x".repeat(MD5_MAX_KEY_LEN + 1);
        assert_eq!(
            set_md5(&s, peer, Some(&long)).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
