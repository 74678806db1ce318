//! Where webhooks may be delivered. A partner chooses its webhook's URL, and the worker POSTs
//! from inside the deployment's network: without a guard, a URL naming `127.0.0.1:5432`, a
//! private address or the cloud metadata service (`169.254.169.254`) would make Relais a relay
//! into networks the partner cannot reach (server-side request forgery). The worker's resolver
//! drops such addresses, so the check applies to the address actually connected to, after DNS,
//! and a name that resolves to a private address is refused too. `RELAIS_WEBHOOK_PRIVATE_ADDRESSES=on`
//! lifts it, for a receiver on the same host or network (development, tests, an internal SI).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// Whether `ip` is reachable on the public internet: not loopback, private, link-local,
/// shared (CGNAT), unique-local, unspecified, broadcast, multicast or documentation space.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b); // 100.64.0.0/10, carrier-grade NAT
    let this_network = a == 0; // 0.0.0.0/8
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || shared
        || this_network)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local())
}

/// The worker's DNS resolver: the system's, keeping public addresses only unless private ones
/// are allowed.
pub struct Resolver {
    pub private_allowed: bool,
}

impl ureq::Resolver for Resolver {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        let all: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        if self.private_allowed {
            return Ok(all);
        }
        let public: Vec<SocketAddr> = all.iter().copied().filter(|a| is_public(a.ip())).collect();
        if public.is_empty() && !all.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the webhook's host has only private addresses (loopback, private network, \
                 link-local); deliveries there need RELAIS_WEBHOOK_PRIVATE_ADDRESSES=on",
            ));
        }
        Ok(public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::Resolver as _;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "193.51.24.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_resolver_refuses_a_private_host_unless_allowed() {
        let guarded = Resolver {
            private_allowed: false,
        };
        let error = guarded.resolve("127.0.0.1:8080").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            error
                .to_string()
                .contains("RELAIS_WEBHOOK_PRIVATE_ADDRESSES")
        );
        // A name that resolves to loopback is refused the same way: the check is after DNS.
        assert!(guarded.resolve("localhost:8080").is_err());
        assert_eq!(
            guarded.resolve("8.8.8.8:443").unwrap(),
            ["8.8.8.8:443".parse::<SocketAddr>().unwrap()]
        );
        let open = Resolver {
            private_allowed: true,
        };
        assert_eq!(
            open.resolve("127.0.0.1:8080").unwrap(),
            ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]
        );
    }
}
