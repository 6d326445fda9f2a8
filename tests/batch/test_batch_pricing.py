"""Instances through ECS and EC2 (moto), prices from the spot history and the price list
(stubs): looked up once, cached per type, zone and hour, unpriced (never zero) on failure."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from hpo.backends.batch.pricing import Instance, InstanceFinder, PriceBook
from tests.fakes.fake_prices import ON_DEMAND_PRICE, SPOT_PRICE, Fleet, PriceList

HOUR = 3600.0
T0 = 1_700_000_000.0 // HOUR * HOUR  # the start of an hour


class Counted:
    """Counts the calls made through a client."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return attr(*args, **kwargs)

        return call


def test_each_container_instance_is_looked_up_once(fleet: Fleet) -> None:
    ecs = Counted(fleet.ecs)
    finder = InstanceFinder(ecs, fleet.ec2)
    found = finder.find(fleet.hosts.values())
    assert found[fleet.hosts["spot"]] == Instance("g5.xlarge", "us-east-1a", "spot")
    assert found[fleet.hosts["on-demand"]] == Instance("g5.2xlarge", "us-east-1b", "on-demand")
    assert ecs.calls == 1  # one cluster, one DescribeContainerInstances
    finder.find([fleet.hosts["spot"]])
    assert ecs.calls == 1


def test_an_instance_that_cannot_be_found_says_why(fleet: Fleet) -> None:
    finder = InstanceFinder(fleet.ecs, fleet.ec2)
    old = "arn:aws:ecs:us-east-1:123456789012:container-instance/0f1e"
    gone = fleet.hosts["spot"].rsplit("/", 1)[0] + "/deadbeef"
    found = finder.find([old, gone])
    assert "no cluster" in str(found[old].reason)
    assert found[gone].reason is not None and found[gone].instance_type is None
    assert "no ECS/EC2 client" in str(InstanceFinder(None, None).find([gone])[gone].reason)


def test_prices_are_asked_once_per_type_zone_and_hour(fleet: Fleet) -> None:
    book = PriceBook(fleet.ec2, fleet.pricing, "us-east-1")
    spot = Instance("g5.xlarge", "us-east-1a", "spot")
    first = book.host(spot, T0 + 10)
    assert first.usd_per_hour == float(SPOT_PRICE) and first.lifecycle == "spot"
    assert book.host(spot, T0 + 3000).usd_per_hour == float(SPOT_PRICE)
    assert len(fleet.ec2.asked) == 1
    book.host(spot, T0 + HOUR + 1)  # the next hour may have another price
    assert len(fleet.ec2.asked) == 2
    assert fleet.ec2.asked[1]["StartTime"].timestamp() == T0 + HOUR
    on_demand = book.host(Instance("g5.2xlarge", "us-east-1b", "on-demand"), T0)
    assert on_demand.usd_per_hour == float(ON_DEMAND_PRICE)
    assert on_demand.price_source == "AWS price list, on-demand g5.2xlarge in us-east-1"
    filters = {f["Field"]: f["Value"] for f in fleet.pricing.asked[0]["Filters"]}
    assert filters["regionCode"] == "us-east-1" and filters["operatingSystem"] == "Linux"


class Failing:
    def describe_spot_price_history(self, **kw: Any) -> Any:
        body = {"Error": {"Code": "UnauthorizedOperation", "Message": "not allowed"}}
        raise ClientError(body, "DescribeSpotPriceHistory")


def test_no_price_is_unpriced_never_zero(fleet: Fleet) -> None:
    spot = Instance("g5.xlarge", "us-east-1a", "spot")
    denied = PriceBook(Failing(), None, "us-east-1").host(spot, T0)
    assert denied.usd_per_hour is None and "UnauthorizedOperation" in denied.price_source
    fleet.ec2.prices[("g5.xlarge", "us-east-1a")] = "0.0000"
    free = PriceBook(fleet.ec2, None, "us-east-1").host(spot, T0)
    assert free.usd_per_hour is None and "implausible" in free.price_source
    unlisted = PriceBook(fleet.ec2, PriceList({}), "us-east-1")
    host = unlisted.host(Instance("p9.huge", "us-east-1a", "on-demand"), T0)
    assert host.usd_per_hour is None and host.price_source.startswith("unpriced: the price list")
    lost = PriceBook(fleet.ec2, None, None).host(Instance(reason="EC2 has no i-1"), T0)
    assert lost.usd_per_hour is None and lost.price_source == "unpriced: EC2 has no i-1"
