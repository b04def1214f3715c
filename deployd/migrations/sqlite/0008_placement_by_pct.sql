-- Placement follows the estate's rule: the usable node with the largest disk_free_pct,
-- ties broken by free bytes, then fewer containers.
DROP INDEX idx_node_choice;
CREATE INDEX idx_node_choice ON fun_ai_deploy_runtime_node
    (disk_free_pct DESC, disk_free_bytes DESC, container_count ASC, node_name ASC)
    WHERE enabled = 1 AND draining = 0;
