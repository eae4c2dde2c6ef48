"""EC2 operations of the sandbox (the ``ec2`` query protocol, see :mod:`.querywire`); no I/O.

What doctor needs to tell how a task's agent reaches ssmmessages: subnets, route tables,
VPC endpoints, security groups, the network interfaces of awsvpc tasks (their public IP) and
the instances behind EC2 container instances (their instance profile). The resources come from
``state.world.ec2`` (schema in :mod:`ecs_exec.sandbox.world`).

As in EC2: every route table holds the VPC's ``local`` route first; a subnet with no explicit
association uses its VPC's main table, and the ``association.subnet-id`` filter finds explicit
associations only (so a caller asks for ``association.main=true`` next); an unknown id in an
id list is an ``Invalid<Thing>ID.NotFound`` error; an unknown filter name is
``InvalidParameterValue``; a caller whose policies do not allow the action gets
``UnauthorizedOperation``. Filters are exact matches (no ``*`` wildcards).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ecs_exec.sandbox.principals import denial_message
from ecs_exec.sandbox.querywire import (
    Handler,
    Params,
    QueryError,
    ec2_filters,
    ec2_list,
    xml_timestamp,
)
from ecs_exec.sandbox.state import SandboxState
from ecs_exec.sandbox.world import TaskNetwork, mac_address

Item = dict[str, Any]
#: filter name -> the values an item has for it
Filters = dict[str, Callable[[Item], Iterable[str]]]
_CREATED = 1714550000.0


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _select(
    params: Params,
    state: SandboxState,
    *,
    action: str,
    items: list[Item],
    id_param: str,
    id_key: str,
    not_found: tuple[str, str],
    filters: Filters,
) -> list[Item]:
    """The items an EC2 ``Describe*`` call names by id and filters."""
    message = denial_message(state, f"ec2:{action}", None)
    if message is not None:
        raise QueryError(
            "UnauthorizedOperation", f"You are not authorized to perform this operation. {message}"
        )
    wanted = ec2_list(params, id_param)
    known = {str(item[id_key]) for item in items}
    missing = [i for i in wanted if i not in known]
    if missing:
        code, what = not_found
        raise QueryError(code, f"The {what} '{missing[0]}' does not exist")
    chosen = [item for item in items if not wanted or item[id_key] in wanted]
    for name, values in ec2_filters(params).items():
        if name not in filters:
            raise QueryError("InvalidParameterValue", f"The filter '{name}' is invalid")
        get = filters[name]
        chosen = [i for i in chosen if {_text(v) for v in get(i)} & set(values)]
    return chosen


def _one(key: str) -> Callable[[Item], Iterable[str]]:
    return lambda item: [] if item.get(key) is None else [item[key]]


def _tags(item: Item) -> list[Item]:
    return [{"key": k, "value": v} for k, v in (item.get("tags") or {}).items()]


# -- subnets ----------------------------------------------------------------------------------


def _subnet_body(subnet: Item, state: SandboxState) -> Item:
    return {
        "subnetId": subnet["subnetId"],
        "subnetArn": state.arn("ec2", f"subnet/{subnet['subnetId']}"),
        "state": "available",
        "vpcId": subnet["vpcId"],
        "ownerId": state.account_id,
        "cidrBlock": subnet.get("cidrBlock", "10.0.0.0/24"),
        "availableIpAddressCount": 250,
        "availabilityZone": subnet.get("availabilityZone", f"{state.region}a"),
        "defaultForAz": bool(subnet.get("defaultForAz", False)),
        "mapPublicIpOnLaunch": bool(subnet.get("mapPublicIpOnLaunch", False)),
        "assignIpv6AddressOnCreation": False,
        "tagSet": _tags(subnet),
    }


def describe_subnets(params: Params, state: SandboxState) -> Item:
    subnets = _select(
        params,
        state,
        action="DescribeSubnets",
        items=state.world.ec2.subnets,
        id_param="SubnetId",
        id_key="subnetId",
        not_found=("InvalidSubnetID.NotFound", "subnet ID"),
        filters={
            "subnet-id": _one("subnetId"),
            "vpc-id": _one("vpcId"),
            "availability-zone": lambda s: [s.get("availabilityZone", f"{state.region}a")],
            "map-public-ip-on-launch": lambda s: [_text(bool(s.get("mapPublicIpOnLaunch")))],
            "state": lambda s: ["available"],
        },
    )
    return {"subnetSet": [_subnet_body(s, state) for s in subnets]}


# -- route tables -----------------------------------------------------------------------------


def _vpc(vpc_id: str, state: SandboxState) -> Item:
    return next(v for v in state.world.ec2.vpcs if v["vpcId"] == vpc_id)


def _route_body(route: Item) -> Item:
    target: Item = {k: route[k] for k in ("gatewayId", "natGatewayId") if k in route}
    return {
        "destinationCidrBlock": route.get("destinationCidrBlock", "0.0.0.0/0"),
        **target,
        "origin": "CreateRoute",
        "state": route.get("state", "active"),
    }


def _associations(table: Item) -> list[Item]:
    table_id = table["routeTableId"]
    found = [
        {
            "main": False,
            "routeTableAssociationId": f"rtbassoc-{table_id[4:]}{n:02d}",
            "routeTableId": table_id,
            "subnetId": subnet,
            "associationState": {"state": "associated"},
        }
        for n, subnet in enumerate(table.get("subnets", []))
    ]
    if table.get("main"):
        found.insert(
            0,
            {
                "main": True,
                "routeTableAssociationId": f"rtbassoc-{table_id[4:]}main",
                "routeTableId": table_id,
                "associationState": {"state": "associated"},
            },
        )
    return found


def _table_body(table: Item, state: SandboxState) -> Item:
    local = {
        "destinationCidrBlock": _vpc(table["vpcId"], state).get("cidrBlock", "10.0.0.0/16"),
        "gatewayId": "local",
        "origin": "CreateRouteTable",
        "state": "active",
    }
    return {
        "associationSet": _associations(table),
        "propagatingVgwSet": [],
        "routeTableId": table["routeTableId"],
        "routeSet": [local, *(_route_body(r) for r in table.get("routes", []))],
        "tagSet": _tags(table),
        "vpcId": table["vpcId"],
        "ownerId": state.account_id,
    }


def describe_route_tables(params: Params, state: SandboxState) -> Item:
    tables = _select(
        params,
        state,
        action="DescribeRouteTables",
        items=state.world.ec2.route_tables,
        id_param="RouteTableId",
        id_key="routeTableId",
        not_found=("InvalidRouteTableID.NotFound", "routeTable ID"),
        filters={
            "route-table-id": _one("routeTableId"),
            "vpc-id": _one("vpcId"),
            "association.subnet-id": lambda t: t.get("subnets", []),
            "association.main": lambda t: ["true"] if t.get("main") else [],
            "route.gateway-id": lambda t: [
                r["gatewayId"] for r in t.get("routes", []) if "gatewayId" in r
            ],
            "route.nat-gateway-id": lambda t: [
                r["natGatewayId"] for r in t.get("routes", []) if "natGatewayId" in r
            ],
        },
    )
    return {"routeTableSet": [_table_body(t, state) for t in tables]}


# -- VPC endpoints and security groups --------------------------------------------------------


def _group_refs(group_ids: Iterable[str], state: SandboxState) -> list[Item]:
    names = {
        g["groupId"]: g.get("groupName", g["groupId"]) for g in state.world.ec2.security_groups
    }
    return [{"groupId": g, "groupName": names.get(g, g)} for g in group_ids]


def _endpoint_body(endpoint: Item, state: SandboxState) -> Item:
    endpoint_id = endpoint["vpcEndpointId"]
    service = str(endpoint["serviceName"])
    short = service.rsplit(".", 1)[-1]
    body: Item = {
        "vpcEndpointId": endpoint_id,
        "vpcEndpointType": endpoint.get("vpcEndpointType", "Interface"),
        "vpcId": endpoint["vpcId"],
        "serviceName": service,
        # The wire value is lower case, as EC2 sends it (the model's enum is capitalised).
        "state": endpoint.get("state", "available"),
        "routeTableIdSet": [],
        "subnetIdSet": list(endpoint.get("subnets", [])),
        "groupSet": _group_refs(endpoint.get("securityGroups", []), state),
        "ipAddressType": "ipv4",
        "privateDnsEnabled": bool(endpoint.get("privateDnsEnabled", True)),
        "requesterManaged": False,
        "networkInterfaceIdSet": [
            f"eni-{endpoint_id[5:]}{n}" for n, _ in enumerate(endpoint.get("subnets", []))
        ],
        "dnsEntrySet": [
            {
                "dnsName": f"{endpoint_id}.{short}.{state.region}.vpce.amazonaws.com",
                "hostedZoneId": "Z7HUB22UULQXV",
            }
        ],
        "creationTimestamp": xml_timestamp(_CREATED),
        "tagSet": _tags(endpoint),
        "ownerId": state.account_id,
    }
    return body


def describe_vpc_endpoints(params: Params, state: SandboxState) -> Item:
    endpoints = _select(
        params,
        state,
        action="DescribeVpcEndpoints",
        items=state.world.ec2.vpc_endpoints,
        id_param="VpcEndpointId",
        id_key="vpcEndpointId",
        not_found=("InvalidVpcEndpointId.NotFound", "Vpc Endpoint Id"),
        filters={
            "vpc-endpoint-id": _one("vpcEndpointId"),
            "vpc-id": _one("vpcId"),
            "service-name": _one("serviceName"),
            "vpc-endpoint-type": lambda e: [e.get("vpcEndpointType", "Interface")],
            "vpc-endpoint-state": lambda e: [e.get("state", "available")],
        },
    )
    return {"vpcEndpointSet": [_endpoint_body(e, state) for e in endpoints]}


def _permission(rule: Item) -> Item:
    protocol = str(rule.get("ipProtocol", "-1"))
    body: Item = {"ipProtocol": protocol}
    if protocol != "-1":
        body["fromPort"] = int(rule.get("fromPort", 0))
        body["toPort"] = int(rule.get("toPort", 65535))
    body["groups"] = [{"groupId": g} for g in rule.get("groups", [])]
    body["ipRanges"] = [{"cidrIp": c} for c in rule.get("cidrIp", [])]
    body["ipv6Ranges"] = []
    body["prefixListIds"] = []
    return body


_ALL_OUT = {"ipProtocol": "-1", "cidrIp": ["0.0.0.0/0"]}


def describe_security_groups(params: Params, state: SandboxState) -> Item:
    groups = _select(
        params,
        state,
        action="DescribeSecurityGroups",
        items=state.world.ec2.security_groups,
        id_param="GroupId",
        id_key="groupId",
        not_found=("InvalidGroup.NotFound", "security group"),
        filters={
            "group-id": _one("groupId"),
            "group-name": _one("groupName"),
            "vpc-id": _one("vpcId"),
        },
    )
    return {
        "securityGroupInfo": [
            {
                "groupId": g["groupId"],
                "groupName": g.get("groupName", g["groupId"]),
                "groupDescription": g.get("description", "sandbox security group"),
                "ownerId": state.account_id,
                "vpcId": g["vpcId"],
                "securityGroupArn": state.arn("ec2", f"security-group/{g['groupId']}"),
                "ipPermissions": [_permission(r) for r in g.get("ingress", [])],
                "ipPermissionsEgress": [_permission(r) for r in g.get("egress", [_ALL_OUT])],
                "tagSet": _tags(g),
            }
            for g in groups
        ]
    }


# -- network interfaces and instances ---------------------------------------------------------


def _task_enis(state: SandboxState) -> list[Item]:
    enis = []
    for task_id, network in state.world.task_networks.items():
        enis.append(_eni(task_id, network, state))
    return enis


def _eni(task_id: str, network: TaskNetwork, state: SandboxState) -> Item:
    subnet = state.world.ec2.subnet(network.subnet_id) or {}
    body: Item = {
        "networkInterfaceId": network.eni_id,
        "subnetId": network.subnet_id,
        "vpcId": subnet.get("vpcId", ""),
        "availabilityZone": subnet.get("availabilityZone", f"{state.region}a"),
        "description": f"arn:aws:ecs:{state.region}:{state.account_id}:attachment/{task_id}",
        "interfaceType": "interface",
        "ownerId": state.account_id,
        "requesterId": "578734482556",  # the ECS service's own account, as on real task ENIs
        "requesterManaged": True,
        "status": "in-use",
        "macAddress": mac_address(network.eni_id),
        "privateIpAddress": state.world.private_ip(task_id),
        "sourceDestCheck": True,
        "groupSet": _group_refs(network.security_groups, state),
        "tagSet": [],
    }
    if network.public_ip:
        body["association"] = {"publicIp": network.public_ip, "ipOwnerId": "amazon"}
    return body


def describe_network_interfaces(params: Params, state: SandboxState) -> Item:
    enis = _select(
        params,
        state,
        action="DescribeNetworkInterfaces",
        items=_task_enis(state),
        id_param="NetworkInterfaceId",
        id_key="networkInterfaceId",
        not_found=("InvalidNetworkInterfaceID.NotFound", "networkInterface ID"),
        filters={
            "network-interface-id": _one("networkInterfaceId"),
            "subnet-id": _one("subnetId"),
            "vpc-id": _one("vpcId"),
        },
    )
    return {"networkInterfaceSet": enis}


def _instance_body(instance: Item, state: SandboxState) -> Item:
    subnet = state.world.ec2.subnet(str(instance.get("subnetId", ""))) or {}
    body: Item = {
        "instanceId": instance["instanceId"],
        "imageId": instance.get("imageId", "ami-0a1b2c3d4e5f60718"),
        "instanceState": {"code": 16, "name": "running"},
        "instanceType": instance.get("instanceType", "t3.small"),
        "launchTime": xml_timestamp(_CREATED),
        "placement": {"availabilityZone": subnet.get("availabilityZone", f"{state.region}a")},
        "privateIpAddress": instance.get("privateIp", "10.0.200.10"),
        "subnetId": instance.get("subnetId"),
        "vpcId": subnet.get("vpcId"),
        "architecture": "x86_64",
        "groupSet": _group_refs(instance.get("securityGroups", []), state),
        "tagSet": _tags(instance),
    }
    if instance.get("publicIp"):
        body["ipAddress"] = instance["publicIp"]
    profile_name = instance.get("iamInstanceProfile")
    if profile_name is not None:
        profile = state.world.instance_profiles[profile_name]
        body["iamInstanceProfile"] = {"arn": profile.arn, "id": profile.profile_id}
    return body


def describe_instances(params: Params, state: SandboxState) -> Item:
    instances = _select(
        params,
        state,
        action="DescribeInstances",
        items=state.world.ec2.instances,
        id_param="InstanceId",
        id_key="instanceId",
        not_found=("InvalidInstanceID.NotFound", "instance ID"),
        filters={
            "instance-id": _one("instanceId"),
            "subnet-id": _one("subnetId"),
            "instance-state-name": lambda i: ["running"],
        },
    )
    return {
        "reservationSet": [
            {
                "reservationId": "r-" + i["instanceId"][2:],
                "ownerId": state.account_id,
                "groupSet": [],
                "instancesSet": [_instance_body(i, state)],
            }
            for i in instances
        ]
    }


HANDLERS: dict[str, dict[str, Handler]] = {
    "ec2": {
        "DescribeSubnets": describe_subnets,
        "DescribeRouteTables": describe_route_tables,
        "DescribeVpcEndpoints": describe_vpc_endpoints,
        "DescribeSecurityGroups": describe_security_groups,
        "DescribeNetworkInterfaces": describe_network_interfaces,
        "DescribeInstances": describe_instances,
    }
}
