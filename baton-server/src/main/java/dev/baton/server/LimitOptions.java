package dev.baton.server;

import dev.baton.core.command.Limits;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The operator's {@code --limit NAME=VALUE} options: any component of {@link Limits} by its name.
 * Parsed and checked at start (an unknown name or a bad value stops the server with a clear error);
 * applied over the replicated limits by whichever node leads.
 */
final class LimitOptions {
    private LimitOptions() {}

    static List<String> names() {
        List<String> out = new ArrayList<>();
        for (RecordComponent c : Limits.class.getRecordComponents()) {
            out.add(c.getName());
        }
        return out;
    }

    static UnaryOperator<Limits> parse(List<String> specs, Long ttlMin, Long ttlMax) {
        Map<String, Long> wanted = new LinkedHashMap<>();
        for (String spec : specs) {
            int eq = spec.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--limit wants NAME=VALUE, got '" + spec + "'");
            }
            String name = spec.substring(0, eq).trim();
            if (!names().contains(name)) {
                throw new IllegalArgumentException("unknown limit '" + name + "'; known: " + String.join(", ", names()));
            }
            String value = spec.substring(eq + 1).trim();
            if (name.endsWith("Ms")) { // a duration: 30s as well as 30000
                try {
                    wanted.put(name, Durations.millis(value));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("limit " + name + ": " + e.getMessage());
                }
                continue;
            }
            try {
                wanted.put(name, Long.parseLong(value));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("limit " + name + " needs an integer, got '" + spec.substring(eq + 1) + "'");
            }
        }
        if (ttlMin != null) {
            wanted.put("minSessionTtlMs", ttlMin);
        }
        if (ttlMax != null) {
            wanted.put("maxSessionTtlMs", ttlMax);
        }
        if (wanted.isEmpty()) {
            return UnaryOperator.identity();
        }
        UnaryOperator<Limits> op = current -> apply(current, wanted);
        op.apply(Limits.defaults()); // fail at start, not on the leader, if the values are invalid
        return op;
    }

    private static Limits apply(Limits current, Map<String, Long> wanted) {
        Limits.Builder b = current.toBuilder();
        for (Map.Entry<String, Long> e : wanted.entrySet()) {
            try {
                Method m = findSetter(e.getKey());
                Object v = m.getParameterTypes()[0] == int.class ? (Object) Math.toIntExact(e.getValue()) : e.getValue();
                m.invoke(b, v);
            } catch (ArithmeticException ex) {
                throw new IllegalArgumentException("limit " + e.getKey() + " is out of range: " + e.getValue());
            } catch (InvocationTargetException ex) {
                throw new IllegalArgumentException("limit " + e.getKey() + "=" + e.getValue() + ": "
                        + ex.getCause().getMessage());
            } catch (ReflectiveOperationException ex) {
                throw new IllegalStateException(ex);
            }
        }
        try {
            return b.build();
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException("limits: " + ex.getMessage());
        }
    }

    private static Method findSetter(String name) throws NoSuchMethodException {
        for (Method m : Limits.Builder.class.getMethods()) {
            if (m.getName().equals(name) && m.getParameterCount() == 1) {
                return m;
            }
        }
        throw new NoSuchMethodException(name);
    }
}
