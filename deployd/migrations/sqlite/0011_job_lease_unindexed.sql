-- A runner's beat moves its job's lease: with no index on the lease, the beat changes no
-- index. The sweeper finds expired leases among the running jobs through idx_job_status_id.
DROP INDEX IF EXISTS idx_job_lease;
