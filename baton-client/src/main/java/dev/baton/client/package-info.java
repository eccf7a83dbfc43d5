/**
 * The Baton Java client. It will be a thin layer over the gRPC API (issue 3); nothing here yet.
 */
package dev.baton.client;
