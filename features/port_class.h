/* port_class.h - the class of a TCP/UDP port: domain knowledge the model and the judge may use.
 *
 * A raw port number is never a feature (a model that learns "port 40123 is an attacker" learns
 * the capture, not the attack). What generalises is the kind of service a port belongs to: a UDP
 * amplification vector (DNS, NTP, SSDP, memcached...), a web port, another well-known service,
 * a registered port, or the ephemeral range clients pick source ports from. port_class() maps a
 * port to that class; port_is_reflector() answers the one question the verdict stage asks.
 *
 * The numeric values of enum port_class are model features (see docs/features.md, "Service Port
 * Class"): they are ordered from "no port at all" to "least specific", and changing them is a
 * model-format change. */
#ifndef DD_FEATURES_PORT_CLASS_H
#define DD_FEATURES_PORT_CLASS_H

#include <stdbool.h>
#include <stdint.h>

enum port_class {
    PORT_CLASS_NONE = 0,       /* no port: neither TCP nor UDP (ICMP, fragments without L4...) */
    PORT_CLASS_ZERO = 1,       /* port 0: never a real service, common in crafted floods */
    PORT_CLASS_REFLECTOR = 2,  /* a service abused for UDP reflection/amplification */
    PORT_CLASS_WEB = 3,        /* HTTP/HTTPS and their usual alternates */
    PORT_CLASS_WELL_KNOWN = 4, /* any other port below 1024 */
    PORT_CLASS_REGISTERED = 5, /* 1024..49151 */
    PORT_CLASS_EPHEMERAL = 6,  /* 49152..65535 (the IANA dynamic range) */
    PORT_CLASS_COUNT
};

/* Class of a TCP/UDP port. Reflector ports take precedence over their numeric range (27015 is
 * a reflector, not a registered port). Never fails; callers map "no port" to PORT_CLASS_NONE. */
enum port_class port_class(uint16_t port);

/* True when port is a UDP reflection/amplification service port (DNS 53, NTP 123, SNMP 161,
 * CLDAP 389, SSDP 1900, memcached 11211, chargen 19, ...; the list is in port_class.c). O(1). */
bool port_is_reflector(uint16_t port);

/* Which end of a flow holds its service port (feature "Service Port Side"). */
enum port_side {
    PORT_SIDE_NONE = 0, /* no ports, or both ports in the same class */
    PORT_SIDE_DST = 1,  /* the forward destination: the first packet went to the service */
    PORT_SIDE_SRC = 2,  /* the forward source: the first packet came from the service (replies
                           nobody asked for: the reflection signature) */
};

/* The service port of a TCP/UDP flow whose first packet went from port src to port dst: the
 * port of the more specific class (zero, reflector, web, well-known, registered, ephemeral, in
 * that order). Stores its class in *cls and returns which side holds it; when both ports are in
 * the same class, *cls is that class and the side is PORT_SIDE_NONE. */
enum port_side port_service(uint16_t src, uint16_t dst, enum port_class *cls);

/* Short lower-case name of a class ("reflector", "web", ...); "?" when out of range. */
const char *port_class_name(enum port_class c);

#endif
