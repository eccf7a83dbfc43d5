package dev.baton.core.command;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The switches over {@code kind()} (applier, codecs, dump, footprint, queries) are checked for
 * completeness by the compiler, and cast each value to the record its kind names. That is sound
 * only if every record of a sealed vocabulary answers its own constant, and every constant has a
 * record: checked here for all five.
 */
class KindsTest {

    @Test
    void everyCommandRecordHasItsOwnKind() {
        assertOneKindPerRecord(Command.class, Command.Kind.class);
    }

    @Test
    void everyResultRecordHasItsOwnKind() {
        assertOneKindPerRecord(Result.class, Result.Kind.class);
    }

    @Test
    void everyQueryRecordHasItsOwnKind() {
        assertOneKindPerRecord(Query.class, Query.Kind.class);
    }

    @Test
    void everyEffectRecordHasItsOwnKind() {
        assertOneKindPerRecord(Effect.class, Effect.Kind.class);
    }

    @Test
    void everyObservationRecordHasItsOwnKind() {
        assertOneKindPerRecord(Observation.class, Observation.Kind.class);
    }

    private static <E extends Enum<E>> void assertOneKindPerRecord(Class<?> sealed, Class<E> kinds) {
        Map<E, Class<?>> seen = new EnumMap<>(kinds);
        for (Class<?> record : records(sealed)) {
            Object kind;
            try {
                kind = record.getMethod("kind").invoke(instance(record));
            } catch (ReflectiveOperationException e) {
                throw new AssertionError("cannot ask " + record.getSimpleName() + " its kind", e);
            }
            E k = kinds.cast(kind);
            assertThat(seen.put(k, record)).as("%s answers %s, already answered by another record", record, k).isNull();
            assertThat(k.name()).as("the kind of %s", record.getSimpleName())
                    .isEqualTo(upperSnake(record.getSimpleName()));
        }
        assertThat(seen.keySet()).as("kinds of %s with a record", sealed.getSimpleName())
                .containsExactlyInAnyOrder(kinds.getEnumConstants());
    }

    /** Every record that implements {@code sealed}, through the sealed interfaces in between. */
    private static List<Class<?>> records(Class<?> sealed) {
        List<Class<?>> out = new ArrayList<>();
        for (Class<?> c : sealed.getPermittedSubclasses()) {
            if (c.isRecord()) {
                out.add(c);
            } else {
                out.addAll(records(c));
            }
        }
        return out;
    }

    /** An instance made of default values (first constants for enums): kind() reads none of them. */
    private static Object instance(Class<?> record) throws ReflectiveOperationException {
        RecordComponent[] parts = record.getRecordComponents();
        Class<?>[] types = new Class<?>[parts.length];
        Object[] values = new Object[parts.length];
        for (int i = 0; i < parts.length; i++) {
            Class<?> t = parts[i].getType();
            types[i] = t;
            values[i] = t == boolean.class ? false
                    : t == int.class ? 0
                    : t == long.class ? 0L
                    : t.isEnum() ? t.getEnumConstants()[0]
                    : null;
        }
        Constructor<?> c = record.getDeclaredConstructor(types);
        return c.newInstance(values);
    }

    private static String upperSnake(String camel) {
        return camel.replaceAll("(?<!^)(?=[A-Z])", "_").toUpperCase();
    }
}
