/* port_class.c - the port lists behind port_class() and port_is_reflector().
 *
 * Owns the one list of reflection/amplification service ports and the list of web ports. Both
 * are tiny and read-only; port_is_reflector() is called by the verdict stage for every flow it
 * judges, so it is a switch the compiler turns into a jump table or a few compares, never a
 * scan.
 *
 * DESIGN: the reflector list is the union of the UDP amplification vectors in the public
 * advisories (US-CERT TA14-017A and later memcached/WS-Discovery/CoAP/ARD/Ubiquiti/DVR
 * reports). It is the same list the rate rules used to keep for themselves; keeping it here,
 * next to the model feature that uses it, means the model and the judge agree on what a
 * reflector is. */
#include "features/port_class.h"

bool port_is_reflector(uint16_t port)
{
    switch (port) {
    case 17:    /* QOTD */
    case 19:    /* chargen */
    case 53:    /* DNS */
    case 69:    /* TFTP */
    case 111:   /* portmap */
    case 123:   /* NTP */
    case 137:   /* NetBIOS name */
    case 161:   /* SNMP */
    case 389:   /* CLDAP */
    case 500:   /* IKE */
    case 520:   /* RIP */
    case 1434:  /* MS SQL browser */
    case 1900:  /* SSDP */
    case 3283:  /* Apple Remote Desktop */
    case 3702:  /* WS-Discovery */
    case 4500:  /* IKE NAT-T */
    case 5351:  /* NAT-PMP */
    case 5683:  /* CoAP */
    case 10001: /* Ubiquiti discovery */
    case 11211: /* memcached */
    case 27015: /* Steam/Source game queries */
    case 37810: /* DVR DHCPDiscover */
        return true;
    default:
        return false;
    }
}

static bool port_is_web(uint16_t port)
{
    switch (port) {
    case 80:
    case 443:
    case 8000:
    case 8008:
    case 8080:
    case 8443:
    case 8888:
        return true;
    default:
        return false;
    }
}

enum port_class port_class(uint16_t port)
{
    if (port == 0)
        return PORT_CLASS_ZERO;
    if (port_is_reflector(port))
        return PORT_CLASS_REFLECTOR;
    if (port_is_web(port))
        return PORT_CLASS_WEB;
    if (port < 1024)
        return PORT_CLASS_WELL_KNOWN;
    if (port < 49152)
        return PORT_CLASS_REGISTERED;
    return PORT_CLASS_EPHEMERAL;
}

enum port_side port_service(uint16_t src, uint16_t dst, enum port_class *cls)
{
    enum port_class cs = port_class(src), cd = port_class(dst);
    if (cs == cd) {
        *cls = cs;
        return PORT_SIDE_NONE;
    }
    *cls = cs < cd ? cs : cd;
    return cs < cd ? PORT_SIDE_SRC : PORT_SIDE_DST;
}

const char *port_class_name(enum port_class c)
{
    static const char *const names[PORT_CLASS_COUNT] = {
        [PORT_CLASS_NONE] = "none",
        [PORT_CLASS_ZERO] = "zero",
        [PORT_CLASS_REFLECTOR] = "reflector",
        [PORT_CLASS_WEB] = "web",
        [PORT_CLASS_WELL_KNOWN] = "well_known",
        [PORT_CLASS_REGISTERED] = "registered",
        [PORT_CLASS_EPHEMERAL] = "ephemeral",
    };
    return (unsigned)c < PORT_CLASS_COUNT ? names[c] : "?";
}
