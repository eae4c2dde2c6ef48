"""EC2 look-ups for the data channel's path: a task's subnet, its route table, its network
interface (public IP, security groups), the VPC's ssmmessages interface endpoints and their
security groups' rules for port 443.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_exec.aws._errors import map_aws_errors

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

HTTPS_PORT = 443


@dataclass(frozen=True)
class Subnet:
    id: str
    vpc_id: str
    map_public_ip: bool


@dataclass(frozen=True)
class Route:
    """One route of a table: its destination and what it goes through."""

    destination: str
    gateway_id: str | None = None  # igw-..., vgw-..., local, vpce-...
    nat_gateway_id: str | None = None
    state: str = "active"

    @property
    def default(self) -> bool:
        return self.destination in {"0.0.0.0/0", "::/0"}

    @property
    def via(self) -> str:
        return self.nat_gateway_id or self.gateway_id or "other"


@dataclass(frozen=True)
class Interface:
    id: str
    private_ip: str | None
    public_ip: str | None
    security_groups: tuple[str, ...]


@dataclass(frozen=True)
class Endpoint:
    id: str
    state: str
    private_dns: bool
    subnet_ids: tuple[str, ...]
    security_groups: tuple[str, ...]


def subnet(client: EC2Client, subnet_id: str, *, profile: str | None = None) -> Subnet | None:
    with map_aws_errors(action="ec2:DescribeSubnets", profile=profile):
        found: list[Any] = list(client.describe_subnets(SubnetIds=[subnet_id])["Subnets"])
    if not found:
        return None
    return Subnet(
        id=subnet_id,
        vpc_id=str(found[0].get("VpcId", "")),
        map_public_ip=bool(found[0].get("MapPublicIpOnLaunch", False)),
    )


def routes(client: EC2Client, net: Subnet, *, profile: str | None = None) -> list[Route]:
    """The routes of the subnet's table: its own association, else the VPC's main table."""
    with map_aws_errors(action="ec2:DescribeRouteTables", profile=profile):
        tables: list[Any] = list(
            client.describe_route_tables(
                Filters=[{"Name": "association.subnet-id", "Values": [net.id]}]
            )["RouteTables"]
        )
        if not tables:
            tables = list(
                client.describe_route_tables(
                    Filters=[
                        {"Name": "vpc-id", "Values": [net.vpc_id]},
                        {"Name": "association.main", "Values": ["true"]},
                    ]
                )["RouteTables"]
            )
    if not tables:
        return []
    return [
        Route(
            destination=str(r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock")),
            gateway_id=r.get("GatewayId"),
            nat_gateway_id=r.get("NatGatewayId"),
            state=str(r.get("State", "active")),
        )
        for r in tables[0].get("Routes", [])
    ]


def interface(client: EC2Client, eni_id: str, *, profile: str | None = None) -> Interface | None:
    with map_aws_errors(action="ec2:DescribeNetworkInterfaces", profile=profile):
        found: list[Any] = list(
            client.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"]
        )
    if not found:
        return None
    data = found[0]
    return Interface(
        id=eni_id,
        private_ip=data.get("PrivateIpAddress"),
        public_ip=data.get("Association", {}).get("PublicIp"),
        security_groups=tuple(str(g.get("GroupId", "")) for g in data.get("Groups", [])),
    )


def ssmmessages_endpoints(
    client: EC2Client, vpc_id: str, region: str, *, profile: str | None = None
) -> list[Endpoint]:
    """The VPC's interface endpoints for ``com.amazonaws.REGION.ssmmessages``."""
    name = f"com.amazonaws.{region}.ssmmessages"
    with map_aws_errors(action="ec2:DescribeVpcEndpoints", profile=profile):
        found: list[Any] = list(
            client.describe_vpc_endpoints(
                Filters=[
                    {"Name": "vpc-id", "Values": [vpc_id]},
                    {"Name": "service-name", "Values": [name]},
                ]
            )["VpcEndpoints"]
        )
    return [
        Endpoint(
            id=str(e.get("VpcEndpointId", "")),
            state=str(e.get("State", "")).lower(),
            private_dns=bool(e.get("PrivateDnsEnabled", False)),
            subnet_ids=tuple(e.get("SubnetIds", [])),
            security_groups=tuple(str(g.get("GroupId", "")) for g in e.get("Groups", [])),
        )
        for e in found
        if e.get("VpcEndpointType", "Interface") == "Interface"
    ]


def allows_https_from(
    client: EC2Client,
    group_ids: Sequence[str],
    *,
    source_groups: Sequence[str],
    source_ip: str | None,
    profile: str | None = None,
) -> bool:
    """Whether any of ``group_ids`` lets TCP 443 in from one of ``source_groups`` or from
    ``source_ip`` (ec2:DescribeSecurityGroups)."""
    if not group_ids:
        return False
    with map_aws_errors(action="ec2:DescribeSecurityGroups", profile=profile):
        groups: list[Any] = list(
            client.describe_security_groups(GroupIds=list(group_ids))["SecurityGroups"]
        )
    for group in groups:
        for rule in group.get("IpPermissions", []):
            if not _covers_https(rule):
                continue
            if any(p.get("GroupId") in source_groups for p in rule.get("UserIdGroupPairs", [])):
                return True
            if source_ip and any(
                _in_cidr(source_ip, r.get("CidrIp", "")) for r in rule.get("IpRanges", [])
            ):
                return True
    return False


def _covers_https(rule: Any) -> bool:
    if rule.get("IpProtocol") == "-1":
        return True
    if rule.get("IpProtocol") not in {"tcp", "6"}:
        return False
    return int(rule.get("FromPort", -1)) <= HTTPS_PORT <= int(rule.get("ToPort", -1))


def _in_cidr(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


@dataclass(frozen=True)
class Instance:
    """An EC2 instance as an ECS container instance's network and role see it."""

    id: str
    subnet_id: str | None
    private_ip: str | None
    public_ip: str | None
    security_groups: tuple[str, ...]
    profile_arn: str | None


def instance(client: EC2Client, instance_id: str, *, profile: str | None = None) -> Instance | None:
    with map_aws_errors(action="ec2:DescribeInstances", profile=profile):
        reservations: list[Any] = list(
            client.describe_instances(InstanceIds=[instance_id])["Reservations"]
        )
    found = [i for r in reservations for i in r.get("Instances", [])]
    if not found:
        return None
    data = found[0]
    return Instance(
        id=instance_id,
        subnet_id=data.get("SubnetId"),
        private_ip=data.get("PrivateIpAddress"),
        public_ip=data.get("PublicIpAddress"),
        security_groups=tuple(str(g.get("GroupId", "")) for g in data.get("SecurityGroups", [])),
        profile_arn=data.get("IamInstanceProfile", {}).get("Arn"),
    )
