-- A runner's beat moves only its job's lease, phase and time, and a log append only its
-- counters: with no index on the lease and room left on each page of jobs, both are
-- written in place (a heap-only tuple), without a new entry in every index of the job
-- table. The sweeper finds expired leases among the running jobs through idx_job_status_id.
DROP INDEX IF EXISTS idx_job_lease;
ALTER TABLE fun_ai_deploy_job SET (fillfactor = 70);
