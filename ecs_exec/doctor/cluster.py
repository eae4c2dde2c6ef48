"""Cluster checks: the cluster exists, its exec KMS key, its exec logging, log group and S3
bucket (docs/doctor.md#5-cluster-exec-configuration)."""

from __future__ import annotations

from ecs_exec.aws.kmskeys import describe_key
from ecs_exec.aws.logs import find_log_group
from ecs_exec.aws.s3buckets import bucket_encryption, head_bucket
from ecs_exec.doctor.facts import Facts
from ecs_exec.doctor.model import Check, Finding, Group, failed, ok, skipped


def check_found(facts: Facts) -> Finding:
    config = facts.exec_configuration()
    return ok(f"{config.cluster} ({config.status})", arn=config.cluster_arn)


def check_kms_key(facts: Facts) -> Finding:
    config = facts.exec_configuration()
    if not config.kms_key_id:
        return ok("no KMS key: sessions use TLS only, no extra encryption", kmsKeyId=None)
    key_id = config.kms_key_id
    key = describe_key(facts.clients.kms, key_id, profile=facts.profile)
    if key is None:
        return failed(
            f"the cluster's exec KMS key {key_id} does not exist",
            "every session's encryption handshake fails without it",
            f"point the cluster at an existing key: aws ecs update-cluster --cluster "
            f"{config.cluster} --configuration 'executeCommandConfiguration={{kmsKeyId=KEY_ARN}}'",
            kmsKeyId=key_id,
        )
    if not key.enabled:
        fix = f"aws kms enable-key --key-id {key.arn}"
        if key.state == "PendingDeletion":
            fix = f"aws kms cancel-key-deletion --key-id {key.arn} && {fix}"
        return failed(
            f"the cluster's exec KMS key is {key.state}",
            "a key that is not enabled cannot make the session's data keys",
            fix,
            kmsKeyId=key.arn,
            keyState=key.state,
        )
    return ok(f"sessions encrypted with {key.arn} (Enabled)", kmsKeyId=key.arn, keyState=key.state)


def check_logging(facts: Facts) -> Finding:
    c = facts.exec_configuration()
    details = {
        "logging": c.logging,
        "cloudWatchLogGroupName": c.log_group,
        "cloudWatchEncryptionEnabled": c.log_group_encryption,
        "s3BucketName": c.s3_bucket,
        "s3EncryptionEnabled": c.s3_encryption,
        "s3KeyPrefix": c.s3_prefix,
    }
    if c.logging == "NONE":
        return ok("NONE: session output is not logged", **details)
    if c.logging == "DEFAULT":
        return ok(
            "DEFAULT: session output goes where each container's awslogs driver sends its logs",
            **details,
        )
    if not c.log_group and not c.s3_bucket:
        return failed(
            "OVERRIDE logging with no log group and no S3 bucket",
            "OVERRIDE needs a CloudWatch log group, an S3 bucket or both",
            f"aws ecs update-cluster --cluster {c.cluster} --configuration "
            "'executeCommandConfiguration={logging=OVERRIDE,logConfiguration="
            "{cloudWatchLogGroupName=/aws/ecs/exec}}'",
            **details,
        )
    where = []
    if c.log_group:
        where.append(
            f"log group {c.log_group}" + (" (encryption required)" * c.log_group_encryption)
        )
    if c.s3_bucket:
        prefix = f"/{c.s3_prefix}" if c.s3_prefix else ""
        where.append(
            f"s3://{c.s3_bucket}{prefix}"
            + (" (encryption required: the bucket needs default encryption)" * c.s3_encryption)
        )
    return ok("OVERRIDE: " + " and ".join(where), **details)


def check_log_group(facts: Facts) -> Finding:
    c = facts.exec_configuration()
    if c.logging != "OVERRIDE" or not c.log_group:
        return skipped(f"the cluster's exec logging ({c.logging}) names no CloudWatch log group")
    group = find_log_group(facts.clients.logs, c.log_group, profile=facts.profile)
    if group is None:
        return failed(
            f"log group {c.log_group} does not exist",
            "the agent cannot upload the session log, and sessions fail to start",
            f"aws logs create-log-group --log-group-name {c.log_group}",
            logGroup=c.log_group,
        )
    if c.log_group_encryption and not group.kms_key_id:
        key = c.kms_key_id or "KEY_ARN"
        return failed(
            f"log group {c.log_group} is not encrypted, but the cluster requires it",
            "with cloudWatchEncryptionEnabled the agent refuses to log to an unencrypted "
            "group, and sessions fail to start",
            f"aws logs associate-kms-key --log-group-name {c.log_group} --kms-key-id {key}",
            logGroup=c.log_group,
            kmsKeyId=None,
        )
    enc = f"encrypted with {group.kms_key_id}" if group.kms_key_id else "not encrypted"
    return ok(f"{c.log_group} exists, {enc}", logGroup=c.log_group, kmsKeyId=group.kms_key_id)


#: The default encryption `put-bucket-encryption` sets in the fix: S3-managed keys, which need
#: no KMS permission from the task role.
_SSE_S3 = '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'


def _put_encryption(bucket: str) -> str:
    return (
        f"aws s3api put-bucket-encryption --bucket {bucket} "
        f"--server-side-encryption-configuration '{_SSE_S3}'"
    )


def check_s3_bucket(facts: Facts) -> Finding:
    c = facts.exec_configuration()
    if c.logging != "OVERRIDE" or not c.s3_bucket:
        return skipped(f"the cluster's exec logging ({c.logging}) names no S3 bucket")
    name = c.s3_bucket
    bucket = head_bucket(facts.clients.s3, name, profile=facts.profile)
    if bucket is None:
        region = facts.region()
        # us-east-1 is S3's default location, and refuses it as a LocationConstraint.
        fix = f"aws s3api create-bucket --bucket {name}"
        if region != "us-east-1":
            fix += f" --create-bucket-configuration LocationConstraint={region}"
        if c.s3_encryption:
            fix += f" && {_put_encryption(name)}"
        fix += (
            " (or point the cluster at an existing bucket: aws ecs update-cluster --cluster "
            f"{c.cluster} --configuration 'executeCommandConfiguration={{logging=OVERRIDE,"
            "logConfiguration={s3BucketName=BUCKET}}')"
        )
        return failed(
            f"bucket {name} does not exist",
            "the agent cannot upload the session log to a bucket that does not exist",
            fix,
            bucket=name,
        )
    if not c.s3_encryption:
        return ok(
            f"{name} exists (in {bucket.region or 'an unknown region'})",
            bucket=name,
            region=bucket.region,
        )
    encryption = bucket_encryption(facts.clients.s3, name, profile=facts.profile)
    if encryption is None:
        return failed(
            f"bucket {name} has no default encryption, but the cluster requires it",
            "with s3EncryptionEnabled the agent refuses to log to a bucket without default "
            "encryption, and sessions fail to start",
            _put_encryption(name),
            bucket=name,
            region=bucket.region,
            encryption=None,
        )
    key = f" with {encryption.kms_key_id}" if encryption.kms_key_id else ""
    return ok(
        f"{name} exists (in {bucket.region or 'an unknown region'}), encrypted by default "
        f"({encryption.algorithm}{key})",
        bucket=name,
        region=bucket.region,
        encryption=encryption.algorithm,
        kmsKeyId=encryption.kms_key_id,
    )


CHECKS = (
    Check("cluster.found", Group.CLUSTER, "Cluster", check_found, needs=("local.identity",)),
    Check(
        "cluster.kms-key", Group.CLUSTER, "Exec KMS key", check_kms_key, needs=("cluster.found",)
    ),
    Check(
        "cluster.logging", Group.CLUSTER, "Exec logging", check_logging, needs=("cluster.found",)
    ),
    Check(
        "cluster.log-group",
        Group.CLUSTER,
        "Exec log group",
        check_log_group,
        needs=("cluster.logging",),
    ),
    Check(
        "cluster.s3-bucket",
        Group.CLUSTER,
        "Exec log bucket",
        check_s3_bucket,
        needs=("cluster.logging",),
    ),
)
