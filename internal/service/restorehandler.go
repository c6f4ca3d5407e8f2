package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/jobs"
	"github.com/coffer/coffer/internal/meta"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/vault"
)

// resourceOriginRestore is backup.Resource.Origin for resources created by
// restores.
const resourceOriginRestore = "restore"

// restoreHandler runs restore jobs (jobs.Handler).
//
// A run reads the recovery point and the job's metadata again, opens the
// vault's repository and writes through the type's connector. Where it
// writes is recorded in the job (RestoreDetails.Target) before anything is
// written, so that Settle — after a failure, a shutdown, or a crash on
// any node — finds it:
//
//   - EFS: Target is the aws-backup-restore_<timestamp> directory at the
//     file system's root. A run that fails renames it to
//     aws-backup-failed-restore_<timestamp> (an empty one is removed); so
//     does Settle. A new file system (restore_root/<fs ID>, its ID derived
//     from the job ID) is registered before the restore starts and kept
//     after a failure, holding the failed restore's directory.
//   - EBS: Target is a hidden temporary file next to the new image; it is
//     renamed to the image's name (never replacing a file) when complete,
//     and removed when the restore fails. The new volume is registered when
//     complete.
//   - RDS: Target is the staging database (derived from the job ID) that
//     pg_restore fills; it is renamed to the new database when complete and
//     dropped when the restore fails (connector.Discarder). The new
//     database's identifier is claimed (registered) before the restore
//     starts, so that two restores cannot take it, and released on failure.
//
// An interrupted restore ends FAILED (it is not resumed); a restore
// interrupted by a graceful shutdown runs again, from the start, after the
// restart.
type restoreHandler struct {
	s *Service
}

var _ jobs.Handler = (*restoreHandler)(nil)

// Run implements jobs.Handler.
func (h *restoreHandler) Run(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
	s := h.s
	j := t.Job
	r := j.Restore
	if r == nil {
		return failed(backup.MessageInternalError, "Restore job failed: the job has no restore details."), nil
	}
	rp, err := s.store.GetRecoveryPoint(ctx, r.RecoveryPointArn)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return failed(backup.MessageResourceError, "Restore job failed: recovery point %s no longer exists.", r.RecoveryPointArn), nil
		}
		return jobs.Outcome{}, err
	}
	if !rp.Status.Usable() {
		return failed(backup.MessageResourceError, "Restore job failed: recovery point %s is %s; only COMPLETED recovery points can be restored.", rp.ARN, rp.Status), nil
	}
	sourceID := ""
	if ref, err := backup.ParseResourceARN(rp.ResourceArn); err == nil {
		sourceID = ref.ID
	}
	plan, err := parseRestoreMetadata(j.ResourceType, r.Metadata, sourceID, rp.Engine.LogicalBytes)
	if err != nil {
		return failed(backup.MessageInvalidParameters, "Restore job failed: %s", errMessage(err)), nil
	}
	conn, err := s.data.Connectors.Get(j.ResourceType)
	if err != nil {
		return failed(backup.MessageInvalidParameters, "Restore job failed: %s", errMessage(err)), nil
	}
	vr, snap, err := s.openRecoveryPoint(ctx, rp)
	if err != nil {
		if backup.KindOf(err) == backup.KindUnavailable {
			return jobs.Outcome{}, jobs.Fail(backup.MessageStorageError, "Restore job failed: %s", errMessage(err))
		}
		return failed(backup.MessageResourceError, "Restore job failed: %s", errMessage(err)), nil
	}
	req := connector.RestoreRequest{
		Repo:     vr.Archive,
		Snapshot: snap,
		Progress: func(p connector.Progress) {
			t.Progress(backup.JobProgress{BytesDone: p.BytesDone, BytesTotal: p.BytesTotal, ItemsDone: p.ItemsDone, ItemsTotal: p.ItemsTotal, Percent: p.Percent})
		},
		Logger: t.Logger,
		Clock:  s.clock,
	}
	run := restoreRun{h: h, t: t, rp: rp, plan: plan, conn: conn, vr: vr, req: req}
	switch plan.typ {
	case backup.EFS:
		return run.fileSystem(ctx)
	case backup.EBS:
		return run.volume(ctx)
	case backup.RDS:
		return run.database(ctx)
	}
	return failed(backup.MessageInvalidParameters, "Restore job failed: resource type %s cannot be restored.", plan.typ), nil
}

// restoreRun is one attempt of a restore job.
type restoreRun struct {
	h    *restoreHandler
	t    *jobs.Task
	rp   backup.RecoveryPoint
	plan *restorePlan
	conn connector.Connector
	vr   *vault.Repo
	req  connector.RestoreRequest
}

// record stores where the attempt writes (and what it creates) before it
// writes.
func (r *restoreRun) record(ctx context.Context, target, created string) error {
	_, err := r.t.Update(ctx, func(j *backup.Job) error {
		j.Restore.Target = target
		if created != "" {
			j.Restore.CreatedResourceArn = created
		}
		return nil
	})
	return err
}

// fileSystem restores into a new aws-backup-restore_<timestamp> directory
// of a new or existing file system.
func (r *restoreRun) fileSystem(ctx context.Context) (jobs.Outcome, error) {
	s, j := r.h.s, r.t.Job
	var fs backup.Resource
	var err error
	if r.plan.newFS {
		fs, err = r.newFileSystem(ctx)
		if err != nil {
			return jobs.Outcome{}, err
		}
	} else {
		fs, err = s.lookupResource(ctx, backup.ResourceARN(backup.EFS, j.Region, j.AccountID, r.plan.fsID), j.Region)
		if err != nil {
			if backup.KindOf(err) == backup.KindNotFound {
				return failed(backup.MessageResourceError, "Restore job failed: file system %s no longer exists.", r.plan.fsID), nil
			}
			return jobs.Outcome{}, err
		}
	}
	// The directory is named after the time; a restore into the same file
	// system within the same millisecond takes the next free one.
	now := r.t.Now()
	var dir string
	for i := 0; ; i++ {
		dir = filepath.Join(fs.Target, restoreDirName(now.Add(time.Duration(i)*time.Millisecond)))
		if err := r.record(ctx, dir, fs.ARN); err != nil {
			return jobs.Outcome{}, err
		}
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i == 1000 {
			cat, msg := restoreFailure(err)
			return failed(cat, "Restore job failed: cannot create the restore directory %s in file system %s: %s", filepath.Base(dir), fs.ID, msg), nil
		}
	}
	req := r.req
	req.Target = dir
	req.Include = r.plan.items
	req.RootMeta = len(r.plan.items) == 0
	res, err := r.conn.Restore(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return jobs.Outcome{}, err // the runner settles: Settle marks the directory
		}
		cat, msg := restoreFailure(err)
		where := markFailedRestore(dir)
		return failed(cat, "Restore job failed: %s.%s", msg, where.describe(fs.ID)), nil
	}
	return r.completed(ctx, fs.ARN, res.Bytes), nil
}

// newFileSystem returns the file system a newFileSystem restore writes
// into: the one an earlier attempt of the job created, the one an earlier
// restore with the same CreationToken created, or a new directory under
// restore_root registered as a new EFS resource.
func (r *restoreRun) newFileSystem(ctx context.Context) (backup.Resource, error) {
	s, j := r.h.s, r.t.Job
	if arn := j.Restore.CreatedResourceArn; arn != "" {
		if fs, err := s.store.GetResource(ctx, arn); err == nil {
			return fs, os.MkdirAll(fs.Target, 0o755)
		}
	}
	if tok := r.plan.creationToken; tok != "" {
		list, _, err := s.store.ListResources(ctx, meta.ResourceFilter{Region: j.Region, AccountID: j.AccountID, Type: backup.EFS, CreationToken: tok}, meta.Page{MaxResults: 1})
		if err != nil {
			return backup.Resource{}, err
		}
		if len(list) > 0 {
			return list[0], os.MkdirAll(list[0].Target, 0o755)
		}
	}
	if s.data.RestoreRoot == "" {
		return backup.Resource{}, jobs.Fail(backup.MessageInvalidParameters, "Restore job failed: this Coffer endpoint has no restore_root configured for new file systems")
	}
	id := derivedID("fs-", j.ID)
	root := filepath.Join(s.data.RestoreRoot, id)
	if err := os.MkdirAll(root, 0o755); err != nil {
		cat, msg := restoreFailure(err)
		return backup.Resource{}, jobs.Fail(cat, "Restore job failed: cannot create the new file system's directory under restore_root: %s", msg)
	}
	opts := map[string]string{}
	for _, k := range []string{mdEncrypted, mdKmsKeyID, mdPerformanceMode} {
		if v, ok := r.plan.md[k]; ok {
			opts[k] = v
		}
	}
	fs := backup.Resource{
		ARN: backup.ResourceARN(backup.EFS, j.Region, j.AccountID, id), Type: backup.EFS, Region: j.Region, AccountID: j.AccountID,
		ID: id, Name: id, Target: root, Origin: resourceOriginRestore, CreationToken: r.plan.creationToken,
		CreatedByJobID: j.ID, CreationDate: r.t.Now(), Options: opts,
	}
	err := s.store.CreateResource(ctx, fs)
	var be *backup.Error
	if errors.As(err, &be) && be.Kind == backup.KindAlreadyExists && be.Arn != "" {
		// An earlier attempt of this job, or a concurrent restore with the
		// same CreationToken, created it.
		if be.Arn != fs.ARN {
			_ = os.Remove(root) // ours, and empty
		}
		other, gerr := s.store.GetResource(ctx, be.Arn)
		if gerr != nil {
			return backup.Resource{}, gerr
		}
		return other, os.MkdirAll(other.Target, 0o755)
	}
	if err != nil && backup.KindOf(err) == backup.KindAlreadyExists {
		return s.store.GetResource(ctx, fs.ARN)
	}
	return fs, err
}

// volume restores into a new image file.
func (r *restoreRun) volume(ctx context.Context) (jobs.Outcome, error) {
	s, j := r.h.s, r.t.Job
	id := derivedID("vol-", j.ID)
	path := r.plan.volumePath
	if path == "" {
		if err := os.MkdirAll(s.data.RestoreRoot, 0o755); err != nil {
			cat, msg := restoreFailure(err)
			return failed(cat, "Restore job failed: cannot create restore_root: %s", msg), nil
		}
		path = filepath.Join(s.data.RestoreRoot, id+".img")
	}
	tmp := volumeStaging(path, j.ID)
	if err := r.record(ctx, tmp, ""); err != nil {
		return jobs.Outcome{}, err
	}
	_ = os.Remove(tmp) // a leftover of an earlier attempt
	req := r.req
	req.Target = tmp
	req.Size = r.plan.volumeSize
	res, err := r.conn.Restore(ctx, req)
	if err == nil {
		err = renameNoReplace(tmp, path)
		if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%w: %s was created while the restore ran", connector.ErrTargetExists, path)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return jobs.Outcome{}, err
		}
		_ = os.Remove(tmp)
		cat, msg := restoreFailure(err)
		return failed(cat, "Restore job failed: %s; the partial volume image was removed.", msg), nil
	}
	opts := map[string]string{}
	for _, k := range restoreKeys[backup.EBS] {
		if v, ok := r.plan.md[k]; ok && k != mdVolumePath {
			opts[k] = v
		}
	}
	opts["sizeBytes"] = strconv.FormatInt(max(res.Bytes, r.plan.volumeSize), 10)
	vol := backup.Resource{
		ARN: backup.ResourceARN(backup.EBS, j.Region, j.AccountID, id), Type: backup.EBS, Region: j.Region, AccountID: j.AccountID,
		ID: id, Name: id, Target: path, Origin: resourceOriginRestore, CreatedByJobID: j.ID, CreationDate: r.t.Now(), Options: opts,
	}
	if err := s.store.PutResource(ctx, vol); err != nil {
		return jobs.Outcome{}, err
	}
	return r.completed(ctx, vol.ARN, res.Bytes), nil
}

// volumeStaging is the temporary file a volume restore writes before it is
// renamed to path.
func volumeStaging(path, jobID string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".coffer-restore-"+strings.ToLower(jobID))
}

// renameNoReplace renames from to to, failing with an error wrapping
// os.ErrExist when to exists.
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// A file system without RENAME_NOREPLACE: link, then unlink.
		if err = os.Link(from, to); err == nil {
			return os.Remove(from)
		}
		return err
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// database restores into a new database on the backed-up database's
// server.
func (r *restoreRun) database(ctx context.Context) (jobs.Outcome, error) {
	s, j := r.h.s, r.t.Job
	src, err := s.restoreSource(ctx, r.rp)
	if err != nil {
		return failed(backup.MessageResourceError, "Restore job failed: %s", errMessage(err)), nil
	}
	arn := backup.ResourceARN(backup.RDS, j.Region, j.AccountID, r.plan.dbID)
	stage := stagingDatabase(j.ID)
	if err := r.record(ctx, stage, ""); err != nil {
		return jobs.Outcome{}, err
	}
	claim := backup.Resource{
		ARN: arn, Type: backup.RDS, Region: j.Region, AccountID: j.AccountID, ID: r.plan.dbID, Name: r.plan.dbName,
		Origin: resourceOriginRestore, CreatedByJobID: j.ID, CreationDate: r.t.Now(),
	}
	if err := s.store.CreateResource(ctx, claim); err != nil {
		if backup.KindOf(err) != backup.KindAlreadyExists {
			return jobs.Outcome{}, err
		}
		if prev, gerr := s.store.GetResource(ctx, arn); gerr != nil || prev.CreatedByJobID != j.ID {
			return failed(backup.MessageInvalidParameters, "Restore job failed: database %s (%s) already exists; restore with a new dbInstanceIdentifier.", r.plan.dbID, arn), nil
		}
	}
	if _, ok := s.data.Resources.Get(arn); ok {
		_ = s.releaseClaim(ctx, arn, j.ID)
		return failed(backup.MessageInvalidParameters, "Restore job failed: database %s (%s) is declared in Coffer's configuration; restore with a new dbInstanceIdentifier.", r.plan.dbID, arn), nil
	}
	req := r.req
	req.Target = src.Target
	req.Database = r.plan.dbName
	req.Staging = stage
	res, err := r.conn.Restore(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return jobs.Outcome{}, err
		}
		_ = s.releaseClaim(context.WithoutCancel(ctx), arn, j.ID)
		cat, msg := restoreFailure(err)
		return failed(cat, "Restore job failed: %s", msg), nil
	}
	claim.Target = res.Target
	if err := s.store.PutResource(ctx, claim); err != nil {
		return jobs.Outcome{}, err
	}
	return r.completed(ctx, arn, res.Bytes), nil
}

// releaseClaim removes a resource a restore job registered for itself.
func (s *Service) releaseClaim(ctx context.Context, arn, jobID string) error {
	prev, err := s.store.GetResource(ctx, arn)
	if err != nil || prev.CreatedByJobID != jobID {
		return nil
	}
	err = s.store.DeleteResource(ctx, arn)
	if backup.KindOf(err) == backup.KindNotFound {
		return nil
	}
	return err
}

// completed records a finished restore: the created resource gets the
// recovery point's tags when asked, the recovery point its
// LastRestoreTime, the protected resource its latest restore.
func (r *restoreRun) completed(ctx context.Context, created string, bytes int64) jobs.Outcome {
	s, j := r.h.s, r.t.Job
	now := r.t.Now()
	log := r.t.Logger
	if j.Restore.CopySourceTagsToRestoredResource {
		tags, err := s.store.ListTags(ctx, r.rp.ARN)
		if err == nil && len(tags) > 0 {
			err = s.store.TagResource(ctx, created, tags)
		}
		if err != nil {
			log.Warn("copying the recovery point's tags to the restored resource failed", "error", err.Error())
		}
	}
	if _, err := s.store.UpdateRecoveryPoint(ctx, r.rp.ARN, func(p *backup.RecoveryPoint) error {
		p.LastRestoreTime = now
		return nil
	}); err != nil && backup.KindOf(err) != backup.KindNotFound {
		log.Warn("recording the recovery point's last restore failed", "error", err.Error())
	}
	minutes := int64(now.Sub(j.InitiationDate).Round(time.Minute) / time.Minute)
	_, err := s.store.UpsertProtectedResource(ctx, r.rp.ResourceArn, func(pr *backup.ProtectedResource, exists bool) error {
		if !exists {
			return errNoProtectedResource
		}
		if pr.LatestRestoreJobCreationDate.After(j.CreationDate) {
			return errNoProtectedResource // a later restore is recorded
		}
		pr.LatestRestoreJobCreationDate = j.CreationDate
		pr.LatestRestoreRecoveryPointCreationDate = r.rp.CreationDate
		pr.LatestRestoreExecutionTimeMinutes = max(minutes, 1)
		return nil
	})
	if err != nil && !errors.Is(err, errNoProtectedResource) {
		log.Warn("recording the protected resource's latest restore failed", "error", err.Error())
	}
	return jobs.Outcome{
		State:    backup.JobCompleted,
		Category: backup.MessageSuccess,
		Apply: func(j *backup.Job) {
			j.BackupSizeInBytes = bytes
			j.Restore.CreatedResourceArn = created
			j.Progress.BytesDone = max(j.Progress.BytesDone, bytes)
		},
	}
}

var errNoProtectedResource = errors.New("no protected resource to update")

// Settle implements jobs.Handler: it marks or removes what the attempt
// wrote (see restoreHandler). An interrupted EFS restore ends FAILED with a
// message naming where its partial output now is.
func (h *restoreHandler) Settle(ctx context.Context, job backup.Job, why jobs.Reason) (jobs.Outcome, bool, error) {
	s := h.s
	r := job.Restore
	if r == nil || r.Target == "" {
		return jobs.Outcome{}, false, nil
	}
	switch job.ResourceType {
	case backup.EFS:
		where := markFailedRestore(r.Target)
		if where.err != nil {
			return jobs.Outcome{}, false, where.err
		}
		if why == jobs.Interrupted {
			fsID := ""
			if ref, err := backup.ParseResourceARN(r.CreatedResourceArn); err == nil {
				fsID = ref.ID
			}
			return failed(backup.MessageInterrupted, "Restore job interrupted: the Coffer process running it stopped before it finished.%s Start the restore again.", where.describe(fsID)), true, nil
		}
	case backup.EBS:
		if err := os.Remove(r.Target); err != nil && !errors.Is(err, os.ErrNotExist) {
			return jobs.Outcome{}, false, err
		}
	case backup.RDS:
		conn, err := s.data.Connectors.Get(backup.RDS)
		if err != nil {
			return jobs.Outcome{}, false, err
		}
		if d, ok := conn.(connector.Discarder); ok {
			src, err := s.lookupResource(ctx, job.ResourceArn, regionOf(job.ResourceArn))
			if err != nil {
				return jobs.Outcome{}, false, err
			}
			dbName := r.Metadata[mdDBName]
			if err := d.Discard(ctx, connector.RestoreRequest{Target: src.Target, Database: dbName, Staging: r.Target}); err != nil {
				return jobs.Outcome{}, false, err
			}
		}
		if id := r.Metadata[mdDBInstanceIdentifier]; id != "" {
			if err := s.releaseClaim(ctx, backup.ResourceARN(backup.RDS, job.Region, job.AccountID, id), job.ID); err != nil {
				return jobs.Outcome{}, false, err
			}
		}
	}
	return jobs.Outcome{}, false, nil
}

// regionOf returns the region of an ARN ("" when it does not parse).
func regionOf(arn string) string {
	a, err := backup.ParseARN(arn)
	if err != nil {
		return ""
	}
	return a.Region
}

// failedRestore says what became of a failed restore's directory.
type failedRestore struct {
	moved   string // the aws-backup-failed-restore_ directory, "" if none
	removed bool   // the directory was empty and is gone
	err     error
}

// describe returns a sentence for the job's StatusMessage ("" when there
// is nothing to say).
func (f failedRestore) describe(fsID string) string {
	switch {
	case f.moved != "":
		in := ""
		if fsID != "" {
			in = " of file system " + fsID
		}
		return " What was restored before the failure is in " + filepath.Base(f.moved) + in + "; it is not mixed with live data. Delete it when it is no longer needed."
	case f.err != nil:
		return " What was restored before the failure could not be renamed (" + f.err.Error() + ")."
	}
	return ""
}

// markFailedRestore renames an EFS restore directory to
// aws-backup-failed-restore_<timestamp> (a free variant of the name when
// it is taken), or removes it when nothing was written into it. A missing
// directory is not an error.
func markFailedRestore(dir string) failedRestore {
	if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
		return failedRestore{removed: err == nil}
	}
	to := failedRestoreDir(dir)
	for i := 2; ; i++ {
		err := renameNoReplace(dir, to)
		if err == nil {
			return failedRestore{moved: to}
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return failedRestore{err: err}
		}
		to = failedRestoreDir(dir) + "-" + strconv.Itoa(i)
	}
}

// restoreFailure classifies a failed restore for the StatusMessage and
// MessageCategory.
func restoreFailure(err error) (category, msg string) {
	var be *archive.BlobError
	var errno syscall.Errno
	switch {
	case errors.Is(err, connector.ErrTargetExists):
		return backup.MessageInvalidParameters, connectorMessage(err)
	case errors.As(err, &be), errors.Is(err, repo.ErrCorrupt), errors.Is(err, archive.ErrBlobNotFound):
		return backup.MessageStorageError, "the recovery point's data cannot be read: " + err.Error()
	case errors.Is(err, blob.ErrUnavailable):
		return backup.MessageStorageError, "the vault's storage cannot be read now: " + err.Error()
	case errors.As(err, &errno) && (errno == unix.ENOSPC || errno == unix.EDQUOT):
		return backup.MessageResourceError, "the target is full (no space left on device): " + err.Error()
	case errors.As(err, &errno) && (errno == unix.EACCES || errno == unix.EPERM || errno == unix.EROFS):
		return backup.MessageAccessDenied, "the target cannot be written: " + err.Error()
	case errors.Is(err, connector.ErrUnavailable), errors.Is(err, connector.ErrNotSupported):
		return backup.MessageResourceError, connectorMessage(err)
	}
	return backup.MessageInternalError, connectorMessage(err)
}

// connectorMessage returns err's text without the connector sentinels'
// own prefixes.
func connectorMessage(err error) string {
	msg := err.Error()
	for _, e := range []error{connector.ErrUnavailable, connector.ErrSourceFailed, connector.ErrTargetExists, connector.ErrNotSupported} {
		msg = strings.Replace(msg, e.Error()+": ", "", 1)
	}
	return msg
}
