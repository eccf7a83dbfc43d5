package dev.baton.bench.load;

import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The key space of a run: {@code k0 .. k(K-1)}, drawn uniformly or from a Zipf distribution
 * (rank {@code r} with probability proportional to {@code 1 / (r+1)^s}, so {@code k0} is the hottest).
 */
public final class Keys {
    private final String[] names;
    /** Cumulative probabilities of the ranks for Zipf; null for uniform. */
    private final double[] cdf;
    private final double exponent;

    private Keys(int count, double exponent) {
        if (count < 1) {
            throw new IllegalArgumentException("at least one key, got " + count);
        }
        this.names = new String[count];
        for (int i = 0; i < count; i++) {
            names[i] = "k" + i;
        }
        this.exponent = exponent;
        if (exponent > 0 && count > 1) {
            cdf = new double[count];
            double sum = 0;
            for (int i = 0; i < count; i++) {
                sum += 1 / Math.pow(i + 1, exponent);
                cdf[i] = sum;
            }
            for (int i = 0; i < count; i++) {
                cdf[i] /= sum;
            }
            cdf[count - 1] = 1.0;
        } else {
            cdf = null;
        }
    }

    public static Keys uniform(int count) {
        return new Keys(count, 0);
    }

    /** Zipf with exponent {@code s > 0} (0.99 is the YCSB default). */
    public static Keys zipf(int count, double s) {
        if (!(s > 0)) {
            throw new IllegalArgumentException("zipf exponent must be > 0, got " + s);
        }
        return new Keys(count, s);
    }

    /** {@code uniform}, {@code zipf} (exponent 0.99) or {@code zipf:S}. */
    public static Keys parse(String dist, int count) {
        if (dist.equals("uniform")) {
            return uniform(count);
        }
        if (dist.equals("zipf")) {
            return zipf(count, 0.99);
        }
        if (dist.startsWith("zipf:")) {
            return zipf(count, Double.parseDouble(dist.substring(5)));
        }
        throw new IllegalArgumentException("key distribution is uniform, zipf or zipf:EXPONENT; got " + dist);
    }

    public int count() {
        return names.length;
    }

    public String name(int index) {
        return names[index];
    }

    /** The index of the next key to use. */
    public int next(ThreadLocalRandom rnd) {
        if (cdf == null) {
            return rnd.nextInt(names.length);
        }
        int i = Arrays.binarySearch(cdf, rnd.nextDouble());
        return i >= 0 ? i : Math.min(names.length - 1, -i - 1);
    }

    /** {@code uniform} or {@code zipf:S}, as {@link #parse} reads it. */
    public String describe() {
        return exponent > 0 ? String.format(Locale.ROOT, "zipf:%s", exponent) : "uniform";
    }
}
