-- The container engine each node's agent named in its last heartbeat, as JSON
-- ({"kind":"podman","version":"4.3.1","apiVersion":"1.41"}); NULL for agents that send none.
ALTER TABLE fun_ai_deploy_runtime_node ADD COLUMN engine_info VARCHAR(160);

-- The node whose container serves an app while a job of it runs or after one failed: the
-- route table keeps the app there until a job succeeds elsewhere (node_name is where the
-- newest job was placed). NULL when no node serves it.
ALTER TABLE fun_ai_deploy_app_run ADD COLUMN serving_node VARCHAR(128);
UPDATE fun_ai_deploy_app_run SET serving_node = node_name WHERE status IN ('READY', 'DOWN');
