"""Who is behind an IP address: what connection caps, login slow-downs and bans count and match by."""

from __future__ import annotations

import functools
import ipaddress

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


# Both are asked of every connection, often several times (caps, slow-downs, bans, loopback's exemption), and
# most connections come from addresses seen before (reconnections, a class behind one NAT): parsed once each.
@functools.lru_cache(maxsize=4096)
def address_key(host: str) -> str:
    """The address itself for IPv4, its /64 for IPv6.

    One IPv6 subscriber usually holds a whole /64, so counting single addresses would let one person pass
    for millions. Connection caps, login slow-downs and bans of guests all use this same key.
    """
    address = ip(host)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@functools.lru_cache(maxsize=4096)
def ip(host: str) -> IP:
    """The address a host string names, an IPv4-mapped IPv6 address as the IPv4 one it maps."""
    address = ipaddress.ip_address(host.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
