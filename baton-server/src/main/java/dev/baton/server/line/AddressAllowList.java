package dev.baton.server.line;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The client networks allowed to connect to a port, as CIDR blocks ({@code 10.0.0.0/8},
 * {@code 192.168.1.7}, {@code fd00::/8}, {@code ::1}); empty allows every address.
 *
 * <p>Why: poolcounterd's protocol has no authentication, so port 7531 cannot ask who a client is; it
 * can only refuse the networks that have no business there. An IPv4 client reaching a dual-stack
 * socket shows up as an IPv4-mapped IPv6 address ({@code ::ffff:10.1.2.3}); it is matched against the
 * IPv4 blocks, so one list covers both.
 */
public final class AddressAllowList {
    /** Allows every address. */
    public static final AddressAllowList ANY = new AddressAllowList(List.of());

    /** Only literal addresses: a host name in an allow-list would make every check a DNS lookup. */
    private static final Pattern LITERAL = Pattern.compile("[0-9A-Fa-f.:]+");

    private record Block(byte[] network, int prefixBits, String text) {
        boolean contains(byte[] address) {
            if (address.length != network.length) {
                return false;
            }
            int full = prefixBits / 8;
            for (int i = 0; i < full; i++) {
                if (address[i] != network[i]) {
                    return false;
                }
            }
            int rest = prefixBits % 8;
            if (rest == 0) {
                return true;
            }
            int mask = (0xFF << (8 - rest)) & 0xFF;
            return (address[full] & mask) == (network[full] & mask);
        }
    }

    private final List<Block> blocks;

    private AddressAllowList(List<Block> blocks) {
        this.blocks = List.copyOf(blocks);
    }

    /**
     * Parses a comma-separated list of CIDR blocks or single addresses; blank allows every address.
     *
     * @param option the option's name, for error messages
     * @throws IllegalArgumentException naming the option and the entry at fault
     */
    public static AddressAllowList parse(String list, String option) {
        if (list == null || list.isBlank()) {
            return ANY;
        }
        List<Block> blocks = new ArrayList<>();
        for (String raw : list.split(",")) {
            String entry = raw.strip();
            if (entry.isEmpty()) {
                continue;
            }
            blocks.add(block(entry, option));
        }
        if (blocks.isEmpty()) {
            throw new IllegalArgumentException(option + " lists no network: " + list);
        }
        return new AddressAllowList(blocks);
    }

    private static Block block(String entry, String option) {
        int slash = entry.indexOf('/');
        String addressText = slash < 0 ? entry : entry.substring(0, slash);
        if (!LITERAL.matcher(addressText).matches() || (!addressText.contains(".") && !addressText.contains(":"))) {
            throw new IllegalArgumentException(option + ": not an IP address or CIDR block: " + entry);
        }
        byte[] network;
        try {
            network = canonical(InetAddress.getByName(addressText)); // a literal: no lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(option + ": not an IP address or CIDR block: " + entry);
        }
        int maxBits = network.length * 8;
        int bits = maxBits;
        if (slash >= 0) {
            try {
                bits = Integer.parseInt(entry.substring(slash + 1));
            } catch (NumberFormatException e) {
                bits = -1;
            }
            if (bits < 0 || bits > maxBits) {
                throw new IllegalArgumentException(option + ": the prefix length of " + entry + " must be 0.." + maxBits);
            }
        }
        return new Block(network, bits, entry);
    }

    /** IPv4-mapped IPv6 addresses as IPv4, so that they match IPv4 blocks. */
    private static byte[] canonical(InetAddress a) {
        byte[] b = a.getAddress();
        if (a instanceof Inet6Address && b.length == 16) {
            boolean mapped = b[10] == (byte) 0xFF && b[11] == (byte) 0xFF;
            for (int i = 0; i < 10 && mapped; i++) {
                mapped = b[i] == 0;
            }
            if (mapped) {
                return new byte[] {b[12], b[13], b[14], b[15]};
            }
        }
        return b;
    }

    /** Whether {@code address} may connect; every address when the list is empty. */
    public boolean allows(InetAddress address) {
        if (blocks.isEmpty()) {
            return true;
        }
        if (address == null) {
            return false;
        }
        byte[] b = address instanceof Inet4Address ? address.getAddress() : canonical(address);
        for (Block block : blocks) {
            if (block.contains(b)) {
                return true;
            }
        }
        return false;
    }

    /** True when every address is allowed. */
    public boolean allowsAll() {
        return blocks.isEmpty();
    }

    /** The blocks as given, comma-separated; empty when every address is allowed. */
    @Override
    public String toString() {
        return String.join(",", blocks.stream().map(Block::text).toList());
    }
}
