-- livebase store, migration 006: customer_state carries what incremental re-segmentation needs
-- (livebase.features.state): the first event (tenure) and the latest date of anything known
-- about the customer (whether the state can stand for a date). The rows are recomputed from the
-- log with the definitions of livebase.features.state.customer_state_sql, so that every column
-- means what the features of the log mean (counted order: paid_amount > 0 and a paid_at).
ALTER TABLE customer_state ADD COLUMN first_event_at TIMESTAMP;
ALTER TABLE customer_state ADD COLUMN last_seen_at TIMESTAMP;

CREATE TEMP TABLE lb_state_touched AS SELECT customer_id FROM customer_state;

DELETE FROM customer_state;

INSERT INTO customer_state (customer_id, first_order_at, first_paid_at, last_paid_at, paid_orders,
                            paid_days, paid_revenue, refunded_orders, last_event_at, updated_load,
                            first_event_at, last_seen_at)
SELECT
    t.customer_id,
    o.first_order_at,
    o.first_paid_at,
    o.last_paid_at,
    COALESCE(o.paid_orders, 0),
    COALESCE(o.paid_days, 0),
    COALESCE(o.paid_revenue, CAST(0 AS DECIMAL(18,2))),
    COALESCE(o.refunded_orders, 0),
    e.last_event_at,
    (SELECT COALESCE(MAX(load_id), 0) FROM loads),
    e.first_event_at,
    GREATEST(o.last_order_at, o.last_paid_any_at, e.last_event_at)
FROM lb_state_touched t
LEFT JOIN (
    SELECT
        customer_id,
        MIN(COALESCE(created_at, paid_at)) AS first_order_at,
        MIN(CASE WHEN paid_amount > 0 THEN paid_at END) AS first_paid_at,
        MAX(CASE WHEN paid_amount > 0 THEN paid_at END) AS last_paid_at,
        COUNT(CASE WHEN paid_amount > 0 AND paid_at IS NOT NULL THEN 1 END) AS paid_orders,
        COUNT(DISTINCT CASE WHEN paid_amount > 0 THEN CAST(paid_at AS DATE) END) AS paid_days,
        CAST(SUM(CASE WHEN paid_amount > 0 AND paid_at IS NOT NULL THEN paid_amount END)
             AS DECIMAL(18,2)) AS paid_revenue,
        COUNT(CASE WHEN status = 'refunded' AND COALESCE(created_at, paid_at) IS NOT NULL
                   THEN 1 END) AS refunded_orders,
        MAX(created_at) AS last_order_at,
        MAX(paid_at) AS last_paid_any_at
    FROM orders
    GROUP BY customer_id
) o ON o.customer_id = t.customer_id
LEFT JOIN (
    SELECT customer_id, MIN(ts) AS first_event_at, MAX(ts) AS last_event_at
    FROM events
    GROUP BY customer_id
) e ON e.customer_id = t.customer_id;

DROP TABLE lb_state_touched;
