"""Where fake Batch attempts run and what that costs: container instances in moto's ECS on
moto's EC2 instances, with a made-up spot price history and price list (moto has neither).

``make_fleet`` registers spot and on-demand instances in one cluster (long container
instance ARNs, as Batch's clusters use) and returns their ARNs; ``SpotPrices`` wraps moto's
EC2 client and answers DescribeSpotPriceHistory; ``PriceList`` answers Pricing GetProducts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SPOT_PRICE = "0.4012"  # g5.xlarge in us-east-1a, USD per hour
ON_DEMAND_PRICE = "1.212"  # g5.2xlarge


class SpotPrices:
    """The test's EC2: moto's for instances, and a spot price history it makes up."""

    def __init__(self, ec2: Any, prices: dict[tuple[str, str], str]) -> None:
        self.ec2 = ec2
        self.prices = prices
        self.asked: list[dict[str, Any]] = []

    def describe_spot_price_history(self, **kw: Any) -> dict[str, Any]:
        self.asked.append(kw)
        key = (kw["InstanceTypes"][0], kw["AvailabilityZone"])
        if key not in self.prices:
            return {"SpotPriceHistory": []}
        entry = {"InstanceType": key[0], "AvailabilityZone": key[1], "SpotPrice": self.prices[key],
                 "ProductDescription": "Linux/UNIX", "Timestamp": kw["StartTime"]}  # fmt: skip
        return {"SpotPriceHistory": [entry]}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ec2, name)


class PriceList:
    """The AWS Pricing API's GetProducts for a few on-demand prices."""

    def __init__(self, prices: dict[str, str]) -> None:
        self.prices = prices
        self.asked: list[dict[str, Any]] = []

    def get_products(self, **kw: Any) -> dict[str, Any]:
        self.asked.append(kw)
        wanted = {f["Field"]: f["Value"] for f in kw["Filters"]}
        price = self.prices.get(wanted["instanceType"])
        if price is None:
            return {"PriceList": []}
        dimension = {"unit": "Hrs", "pricePerUnit": {"USD": price}}
        term = {"priceDimensions": {"D1": dimension}}
        return {"PriceList": [json.dumps({"terms": {"OnDemand": {"T1": term}}})]}


@dataclass
class Fleet:
    """Container instances (name -> ARN) and the clients that describe and price them."""

    hosts: dict[str, str]
    ecs: Any
    ec2: SpotPrices
    pricing: PriceList


def make_fleet(ecs: Any, ec2: Any, *, spot: int = 1, on_demand: int = 1) -> Fleet:
    """``spot`` g5.xlarge spot instances in us-east-1a and ``on_demand`` on-demand g5.2xlarge
    in us-east-1b, each registered as a container instance of one cluster."""
    from moto.ec2.models.amis import AMIS

    ecs.put_account_setting(name="containerInstanceLongArnFormat", value="enabled")
    cluster = "hpo-spot_Batch_0a1b2c"
    ecs.create_cluster(clusterName=cluster)
    image = AMIS[0]["ami_id"]  # one of moto's own images (listing them all is slow)
    kinds = [("spot", "g5.xlarge", "us-east-1a", True)] * spot
    kinds += [("on-demand", "g5.2xlarge", "us-east-1b", False)] * on_demand
    hosts = {}
    for i, (name, kind, zone, market) in enumerate(kinds):
        extra = {"InstanceMarketOptions": {"MarketType": "spot"}} if market else {}
        made = ec2.run_instances(ImageId=image, InstanceType=kind, MinCount=1, MaxCount=1,
                                 Placement={"AvailabilityZone": zone}, **extra)  # fmt: skip
        document = json.dumps({"instanceId": made["Instances"][0]["InstanceId"]})
        found = ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=document)
        key = name if (spot if market else on_demand) == 1 else f"{name}-{i}"
        hosts[key] = found["containerInstance"]["containerInstanceArn"]
    prices = SpotPrices(ec2, {("g5.xlarge", "us-east-1a"): SPOT_PRICE})
    return Fleet(hosts, ecs, prices, PriceList({"g5.2xlarge": ON_DEMAND_PRICE}))
