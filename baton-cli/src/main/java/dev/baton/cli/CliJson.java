package dev.baton.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;

import java.math.BigInteger;
import java.util.Map;

/**
 * The {@code -o json} of the commands: a reply in protobuf's JSON mapping (field names in
 * lowerCamelCase, enums by name), except that 64-bit integers are JSON numbers. The mapping writes
 * them as strings, for JavaScript's sake; a script reading {@code baton ... -o json} with jq or
 * Python wants numbers it can compare and add.
 */
final class CliJson {
    private static final Gson PRETTY = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private CliJson() {}

    static String print(MessageOrBuilder m) throws InvalidProtocolBufferException {
        JsonElement tree = JsonParser.parseString(JsonFormat.printer().print(m));
        numbers(tree, m.getDescriptorForType());
        return PRETTY.toJson(tree);
    }

    /** A tree the command built itself, in the same layout as the replies. */
    static String print(JsonElement tree) {
        return PRETTY.toJson(tree);
    }

    private static void numbers(JsonElement e, Descriptor type) {
        if (!e.isJsonObject() || type.getFullName().startsWith("google.protobuf.")) {
            return; // well-known types (Timestamp, Duration, ...) have JSON forms of their own
        }
        JsonObject o = e.getAsJsonObject();
        for (FieldDescriptor f : type.getFields()) {
            JsonElement v = o.get(f.getJsonName());
            if (v == null) {
                continue;
            }
            if (f.isMapField() && v.isJsonObject()) {
                FieldDescriptor value = f.getMessageType().findFieldByName("value");
                for (Map.Entry<String, JsonElement> entry : v.getAsJsonObject().entrySet()) {
                    entry.setValue(value(entry.getValue(), value));
                }
            } else if (f.isRepeated() && v.isJsonArray()) {
                JsonArray a = v.getAsJsonArray();
                for (int i = 0; i < a.size(); i++) {
                    a.set(i, value(a.get(i), f));
                }
            } else {
                o.add(f.getJsonName(), value(v, f));
            }
        }
    }

    private static JsonElement value(JsonElement v, FieldDescriptor f) {
        if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
            numbers(v, f.getMessageType());
            return v;
        }
        if (f.getJavaType() == FieldDescriptor.JavaType.LONG && v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()) {
            return new JsonPrimitive(new BigInteger(v.getAsString()));
        }
        return v;
    }
}
