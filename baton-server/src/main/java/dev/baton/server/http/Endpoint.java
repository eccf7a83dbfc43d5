package dev.baton.server.http;

/**
 * Every endpoint of the HTTP port. A request is matched to one of these ({@link #resolve}) before
 * anything else, so that the token check ({@link HttpAuth}) and the handler ({@link HttpDoor}'s
 * exhaustive {@code switch}) see the same name: an endpoint cannot be served without the compiler
 * asking for its handler, nor without {@link HttpAuth#ACCESS} being asked for its role.
 */
enum Endpoint {
    ROOT_REDIRECT("GET /"),
    DASHBOARD_REDIRECT("GET /dashboard"),
    DASHBOARD_FILE("GET /dashboard/{file}"),
    METRICS("GET /metrics"),
    HEALTH_LIVE("GET /health/live"),
    HEALTH_READY("GET /health/ready"),
    HEALTH_LEADER("GET /health/leader"),
    API_CLUSTER("GET /api/cluster"),
    API_POOLS("GET /api/pools"),
    API_POOL("GET /api/pools/{key}"),
    API_SESSIONS("GET /api/sessions"),
    API_SESSION_CLOSE("POST /api/sessions/{id}/close"),
    API_LOCKS("GET /api/locks"),
    API_DISPATCH("GET /api/dispatch"),
    API_DISPATCH_HISTORY("GET /api/dispatch-history"),
    API_DISPATCH_GROUP("GET /api/dispatch/{group}"),
    API_EVENTS("GET /api/events"),
    API_QUEUES("GET /api/queues"),
    API_QUEUE("GET /api/queues/{name}");

    /** Method and path as the docs write them (HEAD is served wherever GET is). */
    final String label;

    Endpoint(String label) {
        this.label = label;
    }

    /** True if it only reads: GET (and HEAD). */
    boolean isRead() {
        return label.startsWith("GET ");
    }

    /**
     * The endpoint {@code method} on the raw (still percent-encoded) path {@code raw} asks for, or
     * null if there is none: the caller answers 404, or 405 for a method the path does not take.
     */
    static Endpoint resolve(String method, String raw) {
        boolean get = method.equals("GET") || method.equals("HEAD");
        if (raw.equals("/")) {
            return get ? ROOT_REDIRECT : null;
        }
        if (raw.equals("/dashboard")) {
            return DASHBOARD_REDIRECT; // any method: it only points at /dashboard/
        }
        if (raw.startsWith("/dashboard/")) {
            return get ? DASHBOARD_FILE : null;
        }
        if (!raw.startsWith("/api/")) {
            if (!get) {
                return null;
            }
            return switch (raw) {
                case "/metrics" -> METRICS;
                case "/health/live" -> HEALTH_LIVE;
                case "/health/ready" -> HEALTH_READY;
                case "/health/leader" -> HEALTH_LEADER;
                default -> null;
            };
        }
        String[] parts = raw.substring("/api/".length()).split("/", -1);
        String head = parts[0];
        if (method.equals("POST")) {
            return parts.length == 3 && head.equals("sessions") && parts[2].equals("close") ? API_SESSION_CLOSE : null;
        }
        if (!get) {
            return null;
        }
        // "pools/*": the rest of the path, slashes included, is the key (likewise groups and queues)
        return switch (parts.length == 1 ? head : head + "/*") {
            case "cluster" -> API_CLUSTER;
            case "pools" -> API_POOLS;
            case "pools/*" -> API_POOL;
            case "sessions" -> API_SESSIONS;
            case "locks" -> API_LOCKS;
            case "dispatch" -> API_DISPATCH;
            // the history has a path of its own, so that every group name, "history" included, has one
            case "dispatch-history" -> API_DISPATCH_HISTORY;
            case "dispatch/*" -> API_DISPATCH_GROUP;
            case "events" -> API_EVENTS;
            case "queues" -> API_QUEUES;
            case "queues/*" -> API_QUEUE;
            default -> null;
        };
    }
}
