// The AWS SDK for JavaScript v3, unmodified, driving a running Coffer: vaults
// with tags, typed errors, two backups of a declared file system, a paginated
// listing, an idempotent cross-region copy, and a restore of the copy into a
// new file system. Run by TestJavaScriptSDK (internal/e2e), which reads the
// last line ("js ok" and a JSON object) and compares the restored tree with the source.
//
// Environment: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
// (the server's banner), COFFER_RESOURCE_ARN (a declared EFS resource in
// us-east-1), COFFER_ROLE_ARN, COFFER_ACCOUNT.
import assert from "node:assert/strict";
import {
  BackupClient,
  AlreadyExistsException,
  CreateBackupVaultCommand,
  DescribeBackupVaultCommand,
  DescribeBackupJobCommand,
  DescribeCopyJobCommand,
  DescribeRestoreJobCommand,
  InvalidParameterValueException,
  ListCopyJobsCommand,
  ListTagsCommand,
  ResourceNotFoundException,
  StartBackupJobCommand,
  StartCopyJobCommand,
  StartRestoreJobCommand,
  paginateListRecoveryPointsByBackupVault,
} from "@aws-sdk/client-backup";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const endpoint = env("AWS_ENDPOINT_URL");
const resourceArn = env("COFFER_RESOURCE_ARN");
const role = env("COFFER_ROLE_ARN");
const account = env("COFFER_ACCOUNT");
const client = (region) => new BackupClient({ region, endpoint, maxAttempts: 1 });
const east = client("us-east-1");
const west = client("us-west-2");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// until polls get() until done(result) holds, for at most two minutes.
async function until(what, get, done) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const out = await get();
    if (done(out)) return out;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(out)}`);
    await sleep(50);
  }
}

// rejects runs fn and returns the error it must throw.
async function rejects(what, fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error(`${what} succeeded`);
}

// Vaults, tags and typed errors.
const created = await east.send(new CreateBackupVaultCommand({ BackupVaultName: "js-vault", BackupVaultTags: { lang: "javascript" } }));
assert.equal(created.BackupVaultArn, `arn:aws:backup:us-east-1:${account}:backup-vault:js-vault`);
assert.ok(created.CreationDate instanceof Date, "CreationDate is a Date");
const tags = await east.send(new ListTagsCommand({ ResourceArn: created.BackupVaultArn }));
assert.deepEqual(tags.Tags, { lang: "javascript" });
const dup = await rejects("a second vault of the same name", () =>
  east.send(new CreateBackupVaultCommand({ BackupVaultName: "js-vault", CreatorRequestId: "other" })));
assert.ok(dup instanceof AlreadyExistsException, `got ${dup.name}: ${dup.message}`);
assert.equal(dup.Arn, created.BackupVaultArn);
assert.equal(dup.$metadata.httpStatusCode, 400);
const missing = await rejects("describing a missing vault", () =>
  east.send(new DescribeBackupVaultCommand({ BackupVaultName: "no-such-vault" })));
assert.ok(missing instanceof ResourceNotFoundException, `got ${missing.name}: ${missing.message}`);
assert.match(missing.message, /no-such-vault/);

// Two backups of the declared file system (the second is incremental).
async function backup() {
  const started = await east.send(new StartBackupJobCommand({ BackupVaultName: "js-vault", ResourceArn: resourceArn, IamRoleArn: role }));
  const job = await until("backup job", () => east.send(new DescribeBackupJobCommand({ BackupJobId: started.BackupJobId })),
    (d) => d.State === "COMPLETED" || d.State === "FAILED");
  assert.equal(job.State, "COMPLETED", job.StatusMessage);
  assert.ok(job.CompletionDate instanceof Date && typeof job.BackupSizeInBytes === "number", JSON.stringify(job));
  return job;
}
const first = await backup();
assert.ok(first.BackupSizeInBytes > 0, `the first backup stored data: ${JSON.stringify(first)}`);
const rp = (await backup()).RecoveryPointArn; // unchanged: stores nothing new (EFS: BackupSizeInBytes 0)

// Pagination: one recovery point per page, through the SDK's paginator.
const pages = [];
for await (const page of paginateListRecoveryPointsByBackupVault({ client: east, pageSize: 1 }, { BackupVaultName: "js-vault" })) {
  pages.push(page.RecoveryPoints.map((p) => p.RecoveryPointArn));
}
assert.equal(pages.length >= 2, true, `got pages ${JSON.stringify(pages)}`);
assert.ok(pages.flat().includes(rp), `the newest recovery point is listed: ${JSON.stringify(pages)}`);
assert.equal(new Set(pages.flat()).size, 2, `two recovery points, each once: ${JSON.stringify(pages)}`);

// A copy to another region, retried with its idempotency token.
const dr = await west.send(new CreateBackupVaultCommand({ BackupVaultName: "js-dr" }));
const bad = await rejects("a copy to a malformed vault ARN", () => east.send(new StartCopyJobCommand({
  RecoveryPointArn: rp, SourceBackupVaultName: "js-vault", DestinationBackupVaultArn: "arn:aws:backup:nowhere", IamRoleArn: role })));
assert.ok(bad instanceof InvalidParameterValueException, `got ${bad.name}: ${bad.message}`);
const copyInput = { RecoveryPointArn: rp, SourceBackupVaultName: "js-vault", DestinationBackupVaultArn: dr.BackupVaultArn,
  IamRoleArn: role, IdempotencyToken: "js-copy-1", Lifecycle: { DeleteAfterDays: 30 } };
const copy = await east.send(new StartCopyJobCommand(copyInput));
const again = await east.send(new StartCopyJobCommand(copyInput));
assert.equal(again.CopyJobId, copy.CopyJobId, "the retry returns the first job");
const copied = await until("copy job", () => east.send(new DescribeCopyJobCommand({ CopyJobId: copy.CopyJobId })),
  (d) => d.CopyJob.State === "COMPLETED" || d.CopyJob.State === "FAILED");
assert.equal(copied.CopyJob.State, "COMPLETED", copied.CopyJob.StatusMessage);
const copyRP = copied.CopyJob.DestinationRecoveryPointArn;
assert.match(copyRP, /^arn:aws:backup:us-west-2:/);
const listed = await east.send(new ListCopyJobsCommand({ ByState: "COMPLETED", ByDestinationVaultArn: dr.BackupVaultArn }));
assert.deepEqual(listed.CopyJobs.map((j) => j.CopyJobId), [copy.CopyJobId]);

// The copy restored, in its own region, into a new file system.
const restore = await west.send(new StartRestoreJobCommand({ RecoveryPointArn: copyRP, IamRoleArn: role, ResourceType: "EFS",
  Metadata: { newFileSystem: "true", CreationToken: "js-restore" } }));
const restored = await until("restore job", () => west.send(new DescribeRestoreJobCommand({ RestoreJobId: restore.RestoreJobId })),
  (d) => d.Status === "COMPLETED" || d.Status === "FAILED" || d.Status === "ABORTED");
assert.equal(restored.Status, "COMPLETED", restored.StatusMessage);

console.log("js ok", JSON.stringify({ createdResourceArn: restored.CreatedResourceArn, copyRecoveryPointArn: copyRP }));
