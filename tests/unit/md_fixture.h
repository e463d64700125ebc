/*
 * md_fixture.h — gives a test's rsp_metadata the ICCID a StoreMetadataRequest
 * must carry: the one tapshare gives the app on that EID (es10_iccid_for_app),
 * unless the test set one already (a SIM's, from its profile package).
 */
#ifndef TS_TEST_MD_FIXTURE_H
#define TS_TEST_MD_FIXTURE_H

#include "lib/eid.h"
#include "lib/es10.h"
#include "lib/rsp.h"

static inline int
md_fixture_iccid(rsp_metadata *m, const char *eid_digits)
{
	eid_t eid;
	char d[ES10_ICCID_DIGITS_MAX + 1];
	if (m->has_iccid)
		return 0;
	if (eid_parse(eid_digits, &eid) != 0 || es10_iccid_for_app(&eid, m->app_id, d) != 0 ||
	    es10_iccid_from_digits(d, m->iccid) != 0)
		return -1;
	m->has_iccid = 1;
	return 0;
}

#endif
