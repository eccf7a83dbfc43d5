package dev.baton.server;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The dependency arrows between the server's packages run one way: the node assembly
 * ({@code node}) builds the Raft host and registers the doors ({@code grpc}, {@code line},
 * {@code http}); every door is a translation on top of the routing layer ({@code route}), which
 * knows neither the doors nor gRPC; small shared packages ({@code security}, {@code metrics},
 * {@code raft}) sit below. The classes directly in {@code dev.baton.server} ({@code ServerCommand}
 * and its option parsing: {@code baton server}) read the options of every door to start a node, and
 * are outside these rules.
 */
class ServerArchitectureTest {
    private static final String BASE = "dev.baton.server";
    private static final List<String> DOORS = List.of("grpc", "line", "http");

    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages(BASE);
    }

    private static String pkg(String name) {
        return BASE + "." + name + "..";
    }

    @Test
    void noDoorUsesAnotherDoor() {
        for (String door : DOORS) {
            String[] others = DOORS.stream().filter(d -> !d.equals(door)).map(ServerArchitectureTest::pkg)
                    .toArray(String[]::new);
            noClasses().that().resideInAPackage(pkg(door))
                    .should().dependOnClassesThat().resideInAnyPackage(others)
                    .because("a door is a translation on top of the routing layer, not on top of another door")
                    .check(classes);
        }
    }

    @Test
    void onlyTheNodeAssemblyUsesTheDoors() {
        noClasses().that().resideInAPackage(BASE + "..")
                .and().resideOutsideOfPackages(pkg("node"), pkg("grpc"), pkg("line"), pkg("http"))
                .and(notTheCli())
                .should().dependOnClassesThat().resideInAnyPackage(pkg("grpc"), pkg("line"), pkg("http"))
                .because("the node assembly registers the doors; nothing else may know them")
                .check(classes);
    }

    @Test
    void theRoutingLayerKnowsNoDoorAndNoGrpc() {
        noClasses().that().resideInAPackage(pkg("route"))
                .should().dependOnClassesThat().resideInAnyPackage(pkg("grpc"), pkg("line"), pkg("http"),
                        pkg("node"), "io.grpc..", "io.netty..")
                .because("every door shares the routing layer, which fails with its own BatonException")
                .check(classes);
    }

    @Test
    void theSharedPackagesKnowNeitherDoorsNorTheAssembly() {
        noClasses().that().resideInAnyPackage(pkg("route"), pkg("security"), pkg("metrics"), pkg("raft"))
                .should().dependOnClassesThat().resideInAnyPackage(pkg("grpc"), pkg("line"), pkg("http"), pkg("node"))
                .check(classes);
    }

    @Test
    void thePackagesAreFreeOfCycles() {
        slices().matching(BASE + ".(*)..")
                .should().beFreeOfCycles()
                .check(classes.that(DescribedPredicate.not(inCliPackage())));
    }

    /** {@code ServerCommand} and its option classes sit directly in {@code dev.baton.server}: they start a node (and so use the doors' options). */
    private static DescribedPredicate<JavaClass> notTheCli() {
        return DescribedPredicate.not(inCliPackage());
    }

    private static DescribedPredicate<JavaClass> inCliPackage() {
        return DescribedPredicate.describe("directly in " + BASE + " (baton server's options)",
                c -> c.getPackageName().equals(BASE));
    }
}
