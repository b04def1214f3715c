-- Placement at claim is one indexed row, whatever the number of runtime nodes: the usable
-- nodes in the order placement prefers them (most free bytes, then pct, then fewer containers).
CREATE INDEX idx_node_choice ON fun_ai_deploy_runtime_node
    (disk_free_bytes DESC, disk_free_pct DESC, container_count ASC, node_name ASC)
    WHERE enabled = 1 AND draining = 0;
