"""Network check: which way the exec agent in the task reaches ssmmessages, if any
(docs/doctor.md#4-the-network-path).

The agent resolves ``ssmmessages.REGION.amazonaws.com``. With an interface endpoint for that
service in the VPC and private DNS on, the name resolves to the endpoint, so that is the path
(its security group must let the task in on 443). Otherwise the task's subnet needs a default
route to a NAT gateway, or to an internet gateway together with a public IP on the task.
"""

from __future__ import annotations

from typing import Any

from ecs_exec.aws import network
from ecs_exec.doctor.facts import Facts
from ecs_exec.doctor.model import Check, Finding, Group, failed, ok, skipped


def _origin(facts: Facts) -> dict[str, Any] | None:
    """Subnet, public IP, security groups and private IP of the task's traffic."""
    ec2, profile = facts.clients.ec2, facts.profile
    extras = facts.task_extras()
    if extras.subnet_id:
        eni = network.interface(ec2, extras.eni_id, profile=profile) if extras.eni_id else None
        return {
            "via": f"the task's network interface {extras.eni_id}",
            "subnet": extras.subnet_id,
            "publicIp": eni.public_ip if eni else None,
            "securityGroups": list(eni.security_groups) if eni else [],
            "privateIp": eni.private_ip if eni else None,
        }
    host = facts.instance()
    if host is None or host.subnet_id is None:
        return None
    return {
        "via": f"its container instance {host.id}",
        "subnet": host.subnet_id,
        "publicIp": host.public_ip,
        "securityGroups": list(host.security_groups),
        "privateIp": host.private_ip,
    }


def check_path(facts: Facts) -> Finding:
    origin = _origin(facts)
    if origin is None:
        return skipped("ECS shows no network interface or container instance for this task")
    ec2, profile, region = facts.clients.ec2, facts.profile, facts.region()
    subnet = network.subnet(ec2, origin["subnet"], profile=profile)
    if subnet is None:
        return failed(
            f"subnet {origin['subnet']} not found",
            "the task's subnet is not in this account and region",
            None,
            **origin,
        )
    details = {**origin, "vpc": subnet.vpc_id}
    endpoints = network.ssmmessages_endpoints(ec2, subnet.vpc_id, region, profile=profile)
    usable = [e for e in endpoints if e.state == "available" and e.private_dns]
    if usable:
        endpoint = usable[0]
        details.update(path="vpc-endpoint", endpoint=endpoint.id)
        if network.allows_https_from(
            ec2,
            endpoint.security_groups,
            source_groups=origin["securityGroups"],
            source_ip=origin["privateIp"],
            profile=profile,
        ):
            return ok(
                f"through VPC endpoint {endpoint.id} (private DNS on, 443 open to the task)",
                **details,
            )
        group = endpoint.security_groups[0] if endpoint.security_groups else "ENDPOINT_SG"
        source = (
            f"--source-group {origin['securityGroups'][0]}"
            if origin["securityGroups"]
            else f"--cidr {origin['privateIp'] or 'TASK_CIDR'}/32"
        )
        return failed(
            f"the ssmmessages endpoint {endpoint.id} does not let the task in on port 443",
            f"its security groups ({', '.join(endpoint.security_groups) or 'none'}) allow no "
            "TCP 443 from the task's security groups or address",
            f"aws ec2 authorize-security-group-ingress --group-id {group} --protocol tcp "
            f"--port 443 {source}",
            **details,
        )
    routes = [r for r in network.routes(ec2, subnet, profile=profile) if r.state == "active"]
    default = [r for r in routes if r.default]
    nat = next((r for r in default if r.nat_gateway_id), None)
    igw = next((r for r in default if (r.gateway_id or "").startswith("igw-")), None)
    if nat is not None:
        details.update(path="nat-gateway", gateway=nat.nat_gateway_id)
        return ok(
            f"through NAT gateway {nat.nat_gateway_id} (default route of {subnet.id})", **details
        )
    if igw is not None and origin["publicIp"]:
        details.update(path="internet-gateway", gateway=igw.gateway_id)
        return ok(
            f"through internet gateway {igw.gateway_id} with public IP {origin['publicIp']}",
            **details,
        )
    private_dns_off = [e.id for e in endpoints if not e.private_dns]
    details.update(path=None)
    if igw is not None:
        service = facts.task().service_name
        fix = (
            f"aws ecs update-service --cluster {facts.cluster()} --service {service} "
            "--network-configuration 'awsvpcConfiguration={subnets=["
            f"{subnet.id}],securityGroups=[{','.join(origin['securityGroups'])}],"
            "assignPublicIp=ENABLED}' --force-new-deployment"
            if service
            else "run the task with assignPublicIp=ENABLED, or route the subnet through a NAT"
        )
        return failed(
            f"{subnet.id} routes to {igw.gateway_id}, but the task has no public IP",
            "without a public IP an internet gateway does not carry the task's traffic",
            fix,
            **details,
        )
    reason = f"{subnet.id} has no default route to a NAT or internet gateway"
    if private_dns_off:
        reason += (
            f", and the ssmmessages endpoint {private_dns_off[0]} has private DNS off, so the "
            "agent does not use it"
        )
        fix = (
            f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {private_dns_off[0]} "
            "--private-dns-enabled"
        )
    else:
        reason += f", and VPC {subnet.vpc_id} has no ssmmessages interface endpoint"
        groups = ",".join(origin["securityGroups"]) or "SG"
        fix = (
            f"aws ec2 create-vpc-endpoint --vpc-id {subnet.vpc_id} --vpc-endpoint-type "
            f"Interface --service-name com.amazonaws.{region}.ssmmessages --subnet-ids "
            f"{subnet.id} --security-group-ids {groups} --private-dns-enabled (its group must "
            "allow TCP 443 from the task), or add a NAT gateway route"
        )
    return failed("no path from the task to ssmmessages", reason, fix, **details)


CHECKS = (
    Check("network.path", Group.NETWORK, "Path to ssmmessages", check_path, needs=("task.found",)),
)
