"""What an attempt's instance costs: the instance behind its ECS container instance, and the
hourly price of that instance type in its zone.

- :class:`InstanceFinder`: ECS DescribeContainerInstances gives the EC2 instance behind a
  container instance (Batch reports the container instance of each attempt), then EC2
  DescribeInstances its type, zone and lifecycle (spot or on-demand). Both answers never
  change, so each container instance is looked up once.
- :class:`PriceBook`: a spot instance's price is the EC2 spot price history's (Linux/UNIX)
  for its type and zone at the hour the attempt started; an on-demand instance's is the AWS
  price list's (Pricing GetProducts) for its type and region. Each price is asked once per
  type, zone and hour and the answer says where it came from.

Whatever cannot be found (a call fails, access is denied, no price is listed) leaves the
attempt unpriced, with the reason: an unknown price is never zero.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hpo.backends.base import Host

log = logging.getLogger(__name__)

HOUR = 3600.0
SPOT_PRODUCT = "Linux/UNIX"
_DESCRIBE_CHUNK = 100  # container instances per DescribeContainerInstances


@dataclass(frozen=True)
class Instance:
    """The EC2 instance an attempt ran on (``reason`` set: it could not be found)."""

    instance_type: str | None = None
    zone: str | None = None
    lifecycle: str | None = None  # "spot" or "on-demand"
    reason: str | None = None


def _cluster(arn: str) -> str | None:
    """The cluster of a long-format container instance ARN (``.../<cluster>/<id>``)."""
    resource = arn.split(":", 5)[-1]
    parts = resource.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "container-instance" else None


def _hour(at: float) -> int:
    return int(at // HOUR)


def _iso(hour: int) -> str:
    return datetime.fromtimestamp(hour * HOUR, UTC).strftime("%Y-%m-%dT%H:00Z")


class InstanceFinder:
    """Container instance ARN -> :class:`Instance`, through ECS then EC2 (cached)."""

    def __init__(self, ecs: Any, ec2: Any) -> None:
        self.ecs = ecs
        self.ec2 = ec2
        self._known: dict[str, Instance] = {}
        self._lock = threading.Lock()

    def find(self, arns: Iterable[str]) -> dict[str, Instance]:
        """The instance of each ARN (unknown ones are looked up: one ECS and one EC2 call
        per cluster and chunk)."""
        wanted = list(dict.fromkeys(arns))
        with self._lock:
            missing = [a for a in wanted if a not in self._known]
        by_cluster: dict[str | None, list[str]] = {}
        for arn in missing:
            by_cluster.setdefault(_cluster(arn), []).append(arn)
        for cluster, group in by_cluster.items():
            found = self._lookup(cluster, group)
            with self._lock:
                self._known.update(found)
        with self._lock:
            return {arn: self._known[arn] for arn in wanted if arn in self._known}

    def _lookup(self, cluster: str | None, arns: list[str]) -> dict[str, Instance]:
        if cluster is None:
            return {a: Instance(reason=f"no cluster in container instance ARN {a}") for a in arns}
        if self.ecs is None or self.ec2 is None:
            return {a: Instance(reason="no ECS/EC2 client to find the instance") for a in arns}
        out: dict[str, Instance] = {}
        for start in range(0, len(arns), _DESCRIBE_CHUNK):
            out.update(self._chunk(cluster, arns[start : start + _DESCRIBE_CHUNK]))
        return out

    def _chunk(self, cluster: str, arns: list[str]) -> dict[str, Instance]:
        try:
            found = self.ecs.describe_container_instances(cluster=cluster, containerInstances=arns)
        except (ClientError, BotoCoreError) as exc:
            return {
                a: Instance(reason=f"ECS DescribeContainerInstances failed: {exc}") for a in arns
            }
        ids = {}
        for item in found.get("containerInstances", []):
            if isinstance(item.get("ec2InstanceId"), str):
                ids[item["ec2InstanceId"]] = item.get("containerInstanceArn")
        instances = self._instances(list(ids))
        out = {}
        for instance_id, arn in ids.items():
            out[arn] = instances.get(instance_id, Instance(reason=f"EC2 has no {instance_id}"))
        for arn in arns:
            out.setdefault(arn, Instance(reason=f"ECS does not know {arn}"))
        return out

    def _instances(self, ids: list[str]) -> dict[str, Instance]:
        if not ids:
            return {}
        try:
            pages = self.ec2.get_paginator("describe_instances").paginate(InstanceIds=ids)
            reservations = [r for page in pages for r in page.get("Reservations", [])]
        except (ClientError, BotoCoreError) as exc:
            return {i: Instance(reason=f"EC2 DescribeInstances failed: {exc}") for i in ids}
        out = {}
        for reservation in reservations:
            for item in reservation.get("Instances", []):
                out[item["InstanceId"]] = Instance(
                    instance_type=item.get("InstanceType"),
                    zone=(item.get("Placement") or {}).get("AvailabilityZone"),
                    lifecycle="spot" if item.get("InstanceLifecycle") == "spot" else "on-demand",
                )
        return out


class PriceBook:
    """Hourly prices by instance type, zone (or region) and hour (cached)."""

    def __init__(self, ec2: Any, pricing: Any, region: str | None) -> None:
        self.ec2 = ec2
        self.pricing = pricing
        self.region = region
        self._prices: dict[tuple[str, str, str, int], Host] = {}
        self._lock = threading.Lock()

    def host(self, instance: Instance, at: float) -> Host:
        """``instance`` with its price at the hour of ``at`` (epoch seconds)."""
        if instance.reason or not instance.instance_type:
            return Host(None, None, None, None, f"unpriced: {instance.reason or 'no type'}")
        lifecycle = instance.lifecycle or "on-demand"
        where = instance.zone if lifecycle == "spot" else self._region_of(instance.zone)
        key = (instance.instance_type, where or "", lifecycle, _hour(at))
        with self._lock:
            cached = self._prices.get(key)
        if cached is None:
            price, source = self._price(*key)
            cached = Host(instance.instance_type, instance.zone, lifecycle, price, source)
            with self._lock:
                self._prices[key] = cached
        return Host(instance.instance_type, instance.zone, lifecycle, cached.usd_per_hour,
                    cached.price_source)  # fmt: skip

    def _region_of(self, zone: str | None) -> str | None:
        if zone and zone[-1].isalpha():
            return zone[:-1]
        return self.region

    def _price(
        self, instance_type: str, where: str, lifecycle: str, hour: int
    ) -> tuple[float | None, str]:
        try:
            if lifecycle == "spot":
                return self._spot(instance_type, where, hour)
            return self._on_demand(instance_type, where, hour)
        except (ClientError, BotoCoreError, ValueError, KeyError, TypeError) as exc:
            log.info("no price for %s %s in %s: %s", lifecycle, instance_type, where, exc)
            return None, f"unpriced: {lifecycle} price of {instance_type} in {where}: {exc}"[:300]

    def _spot(self, instance_type: str, zone: str, hour: int) -> tuple[float | None, str]:
        """The spot price in effect at the start of ``hour`` (history newest first)."""
        if self.ec2 is None:
            return None, "unpriced: no EC2 client for the spot price history"
        start = datetime.fromtimestamp(hour * HOUR, UTC)
        answer = self.ec2.describe_spot_price_history(
            InstanceTypes=[instance_type], AvailabilityZone=zone,
            ProductDescriptions=[SPOT_PRODUCT], StartTime=start, EndTime=start,
        )  # fmt: skip
        entries = [e for e in answer.get("SpotPriceHistory", []) if e.get("SpotPrice")]
        if not entries:
            return None, f"unpriced: no spot price for {instance_type} in {zone} at {_iso(hour)}"
        newest = max(entries, key=lambda e: e.get("Timestamp") or start)
        price = _positive(newest["SpotPrice"])
        return price, f"EC2 spot price history, {instance_type} in {zone} at {_iso(hour)}"

    def _on_demand(self, instance_type: str, region: str, hour: int) -> tuple[float | None, str]:
        """The on-demand Linux price from the AWS price list (Pricing GetProducts)."""
        if self.pricing is None:
            return None, "unpriced: no Pricing client for on-demand prices"
        filters = {
            "instanceType": instance_type,
            "regionCode": region,
            "operatingSystem": "Linux",
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "capacitystatus": "Used",
        }
        answer = self.pricing.get_products(
            ServiceCode="AmazonEC2", MaxResults=10,
            Filters=[{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
        )  # fmt: skip
        for item in answer.get("PriceList", []):
            product = json.loads(item) if isinstance(item, str) else item
            for term in product["terms"]["OnDemand"].values():
                for dimension in term["priceDimensions"].values():
                    price = _positive(dimension["pricePerUnit"]["USD"])
                    return price, f"AWS price list, on-demand {instance_type} in {region}"
        return None, f"unpriced: the price list has no on-demand {instance_type} in {region}"


def _positive(value: Any) -> float:
    """A listed price as a positive float (a zero or negative price is not believed)."""
    price = float(value)
    if not price > 0 or price > 1000:
        raise ValueError(f"implausible hourly price {value!r}")
    return price
