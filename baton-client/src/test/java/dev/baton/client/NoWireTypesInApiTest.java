package dev.baton.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The client's API speaks Baton's own types: no public or protected signature of a public class in
 * baton-client mentions a generated protobuf or gRPC type ({@code dev.baton.api}).
 */
class NoWireTypesInApiTest {
    private static final String WIRE = "dev.baton.api.";

    @Test
    void noPublicSignatureMentionsTheWireTypes() throws Exception {
        List<Class<?>> classes = clientClasses();
        assertThat(classes).as("the client's classes were found").contains(BatonClient.class, Pools.class);
        List<String> leaks = new ArrayList<>();
        for (Class<?> c : classes) {
            if (!visible(c)) {
                continue;
            }
            check(c.getName() + " extends", c.getGenericSuperclass(), leaks);
            for (Type t : c.getGenericInterfaces()) {
                check(c.getName() + " implements", t, leaks);
            }
            for (Method m : c.getDeclaredMethods()) {
                if (exposed(m.getModifiers()) && !m.isSynthetic()) {
                    check(c.getName() + "." + m.getName() + " returns", m.getGenericReturnType(), leaks);
                    checkExecutable(c.getName() + "." + m.getName(), m, leaks);
                }
            }
            for (Constructor<?> k : c.getDeclaredConstructors()) {
                if (exposed(k.getModifiers()) && !k.isSynthetic()) {
                    checkExecutable(c.getName() + ".<init>", k, leaks);
                }
            }
            for (Field f : c.getDeclaredFields()) {
                if (exposed(f.getModifiers()) && !f.isSynthetic()) {
                    check(c.getName() + "." + f.getName(), f.getGenericType(), leaks);
                }
            }
        }
        assertThat(leaks).as("public signatures that mention " + WIRE + "*").isEmpty();
    }

    /** A public class whose enclosing classes are public too: reachable from outside. */
    private static boolean visible(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
            if (!Modifier.isPublic(k.getModifiers()) || k.isAnonymousClass() || k.isLocalClass()) {
                return false;
            }
        }
        return true;
    }

    private static boolean exposed(int modifiers) {
        return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
    }

    private static void checkExecutable(String where, Executable e, List<String> leaks) {
        for (Type t : e.getGenericParameterTypes()) {
            check(where + " takes", t, leaks);
        }
        for (Type t : e.getGenericExceptionTypes()) {
            check(where + " throws", t, leaks);
        }
        for (TypeVariable<?> v : e.getTypeParameters()) {
            for (Type b : v.getBounds()) {
                check(where + " bounds", b, leaks);
            }
        }
    }

    private static void check(String where, Type type, List<String> leaks) {
        Set<String> names = new HashSet<>();
        collect(type, names, new HashSet<>());
        for (String n : names) {
            if (n.startsWith(WIRE)) {
                leaks.add(where + " " + n);
            }
        }
    }

    private static void collect(Type t, Set<String> names, Set<Type> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        if (t instanceof Class<?> c) {
            names.add(c.isArray() ? c.getComponentType().getName() : c.getName());
        } else if (t instanceof ParameterizedType p) {
            collect(p.getRawType(), names, seen);
            for (Type a : p.getActualTypeArguments()) {
                collect(a, names, seen);
            }
        } else if (t instanceof GenericArrayType g) {
            collect(g.getGenericComponentType(), names, seen);
        } else if (t instanceof WildcardType w) {
            for (Type b : w.getUpperBounds()) {
                collect(b, names, seen);
            }
            for (Type b : w.getLowerBounds()) {
                collect(b, names, seen);
            }
        } else if (t instanceof TypeVariable<?> v) {
            for (Type b : v.getBounds()) {
                collect(b, names, seen);
            }
        }
    }

    /** Every class compiled from baton-client's main sources. */
    private static List<Class<?>> clientClasses() throws IOException, URISyntaxException, ClassNotFoundException {
        Path root = Path.of(BatonClient.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<Class<?>> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class"))::iterator) {
                String name = root.relativize(p).toString().replace(p.getFileSystem().getSeparator(), ".");
                name = name.substring(0, name.length() - ".class".length());
                if (name.endsWith("package-info") || name.endsWith("module-info")) {
                    continue;
                }
                out.add(Class.forName(name, false, BatonClient.class.getClassLoader()));
            }
        }
        return out;
    }
}
