-- A node's heartbeat lists the apps it holds; deployd reads the app runs it records on that
-- node to compare.
CREATE INDEX idx_app_run_node ON fun_ai_deploy_app_run (node_name);
