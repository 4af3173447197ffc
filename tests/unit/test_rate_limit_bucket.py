"""The token buckets and client keys of ``bot.web.ratelimit``, without I/O: time is an argument."""

from __future__ import annotations

import ipaddress

import pytest

from bot.web.ratelimit import Buckets, Rate, client_key, parse_ip, username_key

TEN_A_MINUTE = Rate(10, 60.0)
PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48"))


def test_a_full_burst_passes_then_the_wait_is_one_token_s_refill():
    buckets = Buckets(TEN_A_MINUTE)
    assert [buckets.take("a", 0.0) for _ in range(10)] == [0.0] * 10
    assert buckets.take("a", 0.0) == pytest.approx(6.0)
    assert buckets.take("a", 4.5) == pytest.approx(1.5)  # refusals cost nothing
    assert buckets.take("b", 4.5) == 0.0  # other clients have their own bucket


def test_tokens_come_back_with_time_but_never_beyond_the_burst():
    buckets = Buckets(TEN_A_MINUTE)
    for _ in range(10):
        buckets.take("a", 0.0)
    assert buckets.take("a", 5.9) > 0
    assert buckets.take("a", 6.0) == 0.0
    assert buckets.take("a", 6.0) > 0
    # an hour idle gives back the burst, not sixty minutes' worth
    assert [buckets.take("a", 3606.0) for _ in range(10)] == [0.0] * 10
    assert buckets.take("a", 3606.0) == pytest.approx(6.0)


def test_a_token_given_back_is_usable_and_the_burst_stays_capped():
    buckets = Buckets(Rate(2, 60.0))
    assert buckets.take("a", 0.0) == buckets.take("a", 0.0) == 0.0
    assert buckets.take("a", 0.0) > 0
    buckets.give_back("a", 0.0)
    assert buckets.take("a", 0.0) == 0.0
    for _ in range(5):
        buckets.give_back("b", 0.0)
    assert [buckets.take("b", 0.0) for _ in range(3)][-1] > 0


def test_a_clock_set_back_neither_refills_nor_stalls_the_bucket():
    buckets = Buckets(TEN_A_MINUTE)
    for _ in range(10):
        buckets.take("a", 1000.0)
    assert buckets.take("a", 500.0) == pytest.approx(6.0)
    assert buckets.take("a", 506.0) == 0.0


def test_a_refusal_is_logged_once_per_period_per_client():
    buckets = Buckets(TEN_A_MINUTE)
    assert buckets.first_refusal("a", 0.0)
    assert not buckets.first_refusal("a", 59.0)
    assert buckets.first_refusal("b", 59.0)
    assert buckets.first_refusal("a", 60.0)


def test_memory_is_bounded_and_the_least_recent_client_goes_first():
    buckets = Buckets(TEN_A_MINUTE, max_keys=100)
    for n in range(10):
        buckets.take("regular", float(n))
    for n in range(10_000):  # an attacker rotating addresses
        buckets.take(f"rotating-{n}", 10.0)
        if n % 50 == 0:
            buckets.take("regular", 10.0)
    assert len(buckets) == 100
    # the regular client, seen recently, kept its count (11 taken in 10 s: empty)
    assert buckets.take("regular", 10.0) > 0


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/minute", Rate(10, 60.0)),
        (" 20 / hours ", Rate(20, 3600.0)),
        ("5/SECOND", Rate(5, 1.0)),
        ("1000/day", Rate(1000, 86400.0)),
    ],
)
def test_rates_are_written_count_slash_unit(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "10", "0/minute", "-1/minute", "10/fortnight", "ten/hour"])
def test_anything_else_is_not_a_rate(text):
    with pytest.raises(ValueError, match="like 10/minute"):
        Rate.parse(text)


def test_forwarded_for_is_ignored_from_an_untrusted_peer():
    assert client_key("203.0.113.7", ["198.51.100.1"], PROXIES) == "203.0.113.7"
    assert client_key("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"


def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client():
    # the client may write anything on the left; our proxies append on the right
    chain = ["1.2.3.4, 198.51.100.1", "10.1.1.1"]
    assert client_key("10.0.0.5", chain, PROXIES) == "198.51.100.1"
    assert client_key("10.0.0.5", [], PROXIES) == "10.0.0.5"  # the proxy's own request
    assert client_key("10.0.0.5", ["10.2.2.2"], PROXIES) == "10.2.2.2"  # all trusted
    assert client_key("10.0.0.5", ["198.51.100.1, junk"], PROXIES) == "10.0.0.5"


def test_addresses_with_ports_brackets_and_ipv6_are_read():
    assert parse_ip("192.0.2.1:443") == ipaddress.ip_address("192.0.2.1")
    assert parse_ip("[2001:db8::1]:443") == ipaddress.ip_address("2001:db8::1")
    assert parse_ip("::ffff:192.0.2.1") == ipaddress.ip_address("192.0.2.1")
    assert parse_ip("unknown") is None
    assert client_key("10.0.0.5", ["[2001:db8:1:2::9]:51000"], PROXIES) == "2001:db8:1:2::/64"


def test_an_ipv6_client_is_one_slash_64():
    first = client_key("2001:db8:1:2::1", [], PROXIES)
    other = client_key("2001:db8:1:2:ffff:ffff:ffff:ffff", [], PROXIES)
    assert first == other == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1", [], PROXIES) != first
    assert client_key("2001:db8:ffff::1", ["198.51.100.1"], PROXIES) == "198.51.100.1"


def test_peers_that_are_not_addresses_are_keyed_as_they_are():
    assert client_key("", ["198.51.100.1"], PROXIES) == "unknown"
    assert client_key(None, [], PROXIES) == "unknown"


def test_a_username_key_has_a_bounded_size_and_does_not_name_the_user():
    key = username_key("nguyen.van.a")
    assert "nguyen" not in key
    assert key == username_key("nguyen.van.a") != username_key("Nguyen.van.a")
    assert len(username_key("x" * 1_000_000)) == len(key)
