//! Where webhooks may be delivered. A partner chooses its webhook's URL, and the worker POSTs
//! from inside the deployment's network: without a guard, a URL naming `127.0.0.1:5432`, a
//! private address or the cloud metadata service (`169.254.169.254`) would make Relais a relay
//! into networks the partner cannot reach (server-side request forgery). The worker's resolver
//! drops such addresses, so the check applies to the address actually connected to, after DNS,
//! and a name that resolves to a private address is refused too; so is an IPv6 address that
//! carries an IPv4 one (NAT64, 6to4, IPv4-compatible…), which would reach that IPv4 address
//! through a translator or a tunnel. `RELAIS_WEBHOOK_PRIVATE_ADDRESSES=on` lifts it, for a
//! receiver on the same host or network (development, tests, an internal SI).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// Whether `ip` is reachable on the public internet: see [`refusal`] for what is not.
pub fn is_public(ip: IpAddr) -> bool {
    refusal(ip).is_none()
}

/// Why `ip` is not a public address (for the server's log), or `None` when it is.
///
/// Refused: loopback, private, link-local, shared (CGNAT), unspecified, broadcast, multicast and
/// documentation space in IPv4; in IPv6 the same kinds (unique-local `fc00::/7`, link-local
/// `fe80::/10`, the deprecated site-local `fec0::/10`, documentation `2001:db8::/32` and
/// `3fff::/20`) and every form that carries an IPv4 address (see [`embedded_ipv4`]). An
/// IPv4-mapped address (`::ffff:a.b.c.d`) *is* its IPv4 address on a dual-stack socket, so that
/// address is judged. The other forms are refused outright, public IPv4 address or not: they
/// reach it through a translator or a tunnel (NAT64, 6to4, Teredo) that may sit inside the
/// deployment's network, where what lies behind is not ours to judge.
pub fn refusal(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => ipv4_refusal(v4).map(str::to_owned),
        IpAddr::V6(v6) => {
            ipv6_refusal(v6)
                .map(str::to_owned)
                .or_else(|| match embedded_ipv4(v6)? {
                    (Embedding::Mapped, v4) => {
                        ipv4_refusal(v4).map(|why| format!("IPv4-mapped {v4}: {why}"))
                    }
                    (form, v4) => Some(match ipv4_refusal(v4) {
                        Some(why) => format!("{}, embedding {v4}: {why}", form.name()),
                        None => format!("{}, embedding {v4}", form.name()),
                    }),
                })
        }
    }
}

fn ipv4_refusal(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private network")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space (carrier-grade NAT, 100.64.0.0/10)")
    } else if a == 0 {
        // 0.0.0.0/8, 0.0.0.0 included: "this network".
        Some("unspecified (0.0.0.0/8)")
    } else if ip.is_broadcast() {
        Some("broadcast")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_documentation() {
        Some("documentation")
    } else {
        None
    }
}

/// The IPv6 kinds refused whatever they carry. `Ipv6Addr::is_documentation` is not stable yet.
fn ipv6_refusal(ip: Ipv6Addr) -> Option<&'static str> {
    let [s0, s1, ..] = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_unique_local() {
        Some("unique-local (fc00::/7)")
    } else if ip.is_unicast_link_local() {
        Some("link-local (fe80::/10)")
    } else if s0 & 0xffc0 == 0xfec0 {
        Some("site-local (fec0::/10)")
    } else if (s0, s1) == (0x2001, 0x0db8) || s0 & 0xfff0 == 0x3ff0 {
        Some("documentation (2001:db8::/32, 3fff::/20)")
    } else {
        None
    }
}

/// The forms of IPv6 address that carry an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d` (`::ffff:0:0/96`): the IPv4 address itself, on a dual-stack socket.
    Mapped,
    /// `::a.b.c.d` (`::/96`), deprecated: the host's stack may tunnel it to the IPv4 address.
    Compatible,
    /// `::ffff:0:a.b.c.d` (`::ffff:0:0:0/96`, SIIT).
    Translated,
    /// `64:ff9b::a.b.c.d` (`64:ff9b::/96`), the NAT64 well-known prefix.
    Nat64,
    /// `64:ff9b:1::/48`, the NAT64 prefix for local use (RFC 8215), the IPv4 address placed
    /// around the `u` octet as RFC 6052 says for a /48.
    LocalNat64,
    /// `2002:AABB:CCDD::/48` (`2002::/16`): bits 16..48 are the IPv4 address.
    SixToFour,
    /// `2001:0:…` (`2001::/32`): the last 32 bits are the client's IPv4 address, inverted.
    Teredo,
}

impl Embedding {
    fn name(self) -> &'static str {
        match self {
            Embedding::Mapped => "IPv4-mapped (::ffff:0:0/96)",
            Embedding::Compatible => "IPv4-compatible (::/96)",
            Embedding::Translated => "IPv4-translated (::ffff:0:0:0/96)",
            Embedding::Nat64 => "NAT64 (64:ff9b::/96)",
            Embedding::LocalNat64 => "local NAT64 (64:ff9b:1::/48)",
            Embedding::SixToFour => "6to4 (2002::/16)",
            Embedding::Teredo => "Teredo (2001::/32)",
        }
    }
}

/// The IPv4 address that `ip` carries, and in which form; `None` for an address of none of
/// the [`Embedding`] forms. (`::` and `::1` are of the IPv4-compatible form, as `0.0.0.0` and
/// `0.0.0.1`.) Prefixes an operator chooses for NAT64 cannot be recognised.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let o = ip.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some((Embedding::Mapped, v4));
    }
    // `to_ipv4` also takes the mapped form, handled above.
    if let Some(v4) = ip.to_ipv4() {
        return Some((Embedding::Compatible, v4));
    }
    let form = match ip.segments() {
        [0, 0, 0, 0, 0xffff, 0, _, _] => Embedding::Translated,
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Embedding::Nat64,
        [0x64, 0xff9b, 1, ..] => {
            return Some((
                Embedding::LocalNat64,
                Ipv4Addr::new(o[6], o[7], o[9], o[10]),
            ));
        }
        [0x2002, ..] => {
            return Some((Embedding::SixToFour, Ipv4Addr::new(o[2], o[3], o[4], o[5])));
        }
        [0x2001, 0, ..] => return Some((Embedding::Teredo, !last)),
        _ => return None,
    };
    Some((form, last))
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
        let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
            all.iter().partition(|a| is_public(a.ip()));
        let refused: Vec<String> = refused
            .iter()
            .filter_map(|a| refusal(a.ip()).map(|why| format!("{} ({why})", a.ip())))
            .collect();
        if public.is_empty() && !refused.is_empty() {
            // Reaches the worker's log as the cause of the failure; the delivery says only
            // `unreachable`.
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the webhook's host has no public address: {}; deliveries there need \
                     RELAIS_WEBHOOK_PRIVATE_ADDRESSES=on",
                    refused.join(", ")
                ),
            ));
        }
        if !refused.is_empty() {
            log::debug!(
                "webhooks: addresses not public left out: {}",
                refused.join(", ")
            );
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
        for (address, why) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("192.0.2.1", "documentation"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("fec0::1", "site-local"),
            ("feff:ffff::1", "site-local"),
            ("2001:db8::1", "documentation"),
            ("2001:db8:ffff::1", "documentation"),
            ("3fff:123::1", "documentation"),
            // IPv4-mapped: the IPv4 address judged.
            ("::ffff:127.0.0.1", "IPv4-mapped 127.0.0.1: loopback"),
            ("::ffff:10.0.0.1", "IPv4-mapped 10.0.0.1: private"),
            ("::ffff:169.254.169.254", "link-local"),
            // IPv4-compatible (::/96): refused, the embedded address named.
            (
                "::7f00:1",
                "IPv4-compatible (::/96), embedding 127.0.0.1: loopback",
            ),
            ("::127.0.0.1", "embedding 127.0.0.1: loopback"),
            ("::a9fe:a9fe", "embedding 169.254.169.254: link-local"),
            ("::8.8.8.8", "IPv4-compatible (::/96), embedding 8.8.8.8"),
            // IPv4-translated (::ffff:0:0:0/96).
            (
                "::ffff:0:7f00:1",
                "IPv4-translated (::ffff:0:0:0/96), embedding 127.0.0.1",
            ),
            (
                "::ffff:0:808:808",
                "IPv4-translated (::ffff:0:0:0/96), embedding 8.8.8.8",
            ),
            // NAT64, well-known prefix (64:ff9b::/96) and local use (64:ff9b:1::/48).
            (
                "64:ff9b::7f00:1",
                "NAT64 (64:ff9b::/96), embedding 127.0.0.1: loopback",
            ),
            ("64:ff9b::10.0.0.1", "embedding 10.0.0.1: private"),
            (
                "64:ff9b::8.8.8.8",
                "NAT64 (64:ff9b::/96), embedding 8.8.8.8",
            ),
            (
                "64:ff9b:1:7f00:0:100::",
                "local NAT64 (64:ff9b:1::/48), embedding 127.0.0.1",
            ),
            (
                "64:ff9b:1:0808:0008:0800::",
                "local NAT64 (64:ff9b:1::/48), embedding 8.8.8.8",
            ),
            // 6to4 (2002::/16): bits 16..48.
            (
                "2002:7f00:1::",
                "6to4 (2002::/16), embedding 127.0.0.1: loopback",
            ),
            ("2002:a9fe:a9fe::1", "embedding 169.254.169.254: link-local"),
            ("2002:c0a8:101:1::1", "embedding 192.168.1.1: private"),
            ("2002:808:808::1", "6to4 (2002::/16), embedding 8.8.8.8"),
            // Teredo (2001::/32): the client's address, inverted, in the last 32 bits.
            (
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                "Teredo (2001::/32), embedding 127.0.0.1",
            ),
            (
                "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
                "Teredo (2001::/32), embedding 8.8.8.8",
            ),
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert!(!is_public(ip), "{address} must be refused");
            let told = refusal(ip).unwrap();
            assert!(told.contains(why), "{address}: {told:?} should say {why:?}");
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "193.51.24.1",
            "1.0.0.1",
            "2001:4860:4860::8888",
            "2a01:e0a:1:2::3",
            "2001:1::1",
            "2001:db9::1",
            "2003::1",
            "64:ff9b:2::1",
            "3fef::1",
            "::ffff:8.8.8.8",
            "::ffff:193.51.24.1",
        ] {
            assert!(
                is_public(public.parse().unwrap()),
                "{public}: {:?}",
                refusal(public.parse().unwrap())
            );
        }
    }

    #[test]
    fn each_form_that_embeds_an_ipv4_address_is_mapped_to_it() {
        for (address, form, ipv4) in [
            ("::ffff:127.0.0.1", Embedding::Mapped, "127.0.0.1"),
            ("::ffff:808:808", Embedding::Mapped, "8.8.8.8"),
            ("::7f00:1", Embedding::Compatible, "127.0.0.1"),
            ("::c0a8:101", Embedding::Compatible, "192.168.1.1"),
            ("::ffff:0:7f00:1", Embedding::Translated, "127.0.0.1"),
            ("64:ff9b::7f00:1", Embedding::Nat64, "127.0.0.1"),
            ("64:ff9b::c000:221", Embedding::Nat64, "192.0.2.33"),
            (
                "64:ff9b:1:c000:2:2100::",
                Embedding::LocalNat64,
                "192.0.2.33",
            ),
            ("2002:7f00:1::", Embedding::SixToFour, "127.0.0.1"),
            (
                "2002:c000:221:1:2:3:4:5",
                Embedding::SixToFour,
                "192.0.2.33",
            ),
            // RFC 4380's example: client 192.0.2.45 behind server 65.54.227.120.
            (
                "2001:0:4136:e378:8000:63bf:3fff:fdd2",
                Embedding::Teredo,
                "192.0.2.45",
            ),
        ] {
            let ip: Ipv6Addr = address.parse().unwrap();
            assert_eq!(
                embedded_ipv4(ip),
                Some((form, ipv4.parse().unwrap())),
                "{address}"
            );
        }
        for none in [
            "2001:4860:4860::8888",
            "fec0::1",
            "2001:db8::1",
            "64:ff9b:2::1",
        ] {
            assert_eq!(embedded_ipv4(none.parse().unwrap()), None, "{none}");
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
        // IPv6 literals of each refused form, as a URL's `[host]:port` reaches the resolver.
        for netloc in [
            "[::7f00:1]:8080",
            "[::ffff:127.0.0.1]:8080",
            "[::ffff:0:7f00:1]:8080",
            "[64:ff9b::7f00:1]:8080",
            "[64:ff9b::808:808]:8080",
            "[2002:7f00:1::]:8080",
            "[2002:808:808::]:8080",
            "[fec0::1]:8080",
            "[2001:db8::1]:8080",
        ] {
            let error = guarded.resolve(netloc).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{netloc}");
        }
        assert_eq!(
            guarded.resolve("[2001:4860:4860::8888]:443").unwrap(),
            ["[2001:4860:4860::8888]:443".parse::<SocketAddr>().unwrap()]
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
