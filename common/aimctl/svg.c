/*
 * svg.c -- an agent's trust over time as a self-contained SVG chart.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "aimctl.h"

#define SVG_MAX_POINTS      4000            /* drawn; more are bucketed */

/* x/y of the chart's plot area. */
#define SVG_W   960
#define SVG_H   440
#define SVG_ML  70
#define SVG_MR  100
#define SVG_MT  90
#define SVG_MB  70

static const char *const point_colour[3] = { "#2e7d32", "#c62828", "#ef6c00" };
static const char *const point_label[3]  = { "allow", "deny", "deny: low_trust" };

static int
points_by_time(const void *pa, const void *pb)
{
    const trust_point *a = pa, *b = pb;

    if (a->ts != b->ts) {
        return a->ts < b->ts ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/*
 * The agent's trust over time as a self-contained SVG document: one point
 * per decision coloured by its outcome (a tooltip says which), the
 * trust_min threshold dashed.  More than SVG_MAX_POINTS decisions are
 * bucketed, keeping the lowest trust of each bucket so no dip is lost.
 */
void
render_svg(sbuf *b, const char *agent, trust_point *pts, size_t n,
           int64_t trust_min, const char *source)
{
    static const int64_t steps[] = {
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
        21600, 43200, 86400, 172800, 604800, 2592000, 31536000
    };
    const double pw = SVG_W - SVG_ML - SVG_MR, ph = SVG_H - SVG_MT - SVG_MB;
    int64_t      tick, step_s;
    size_t       i, j, k, step, kept = 0;
    double       x, y, mintrust = 100, t0, t1;
    char         when[32], when2[32], label[32];
    struct tm    tm;
    time_t       tt;
    int          counts[3] = { 0, 0, 0 };

    qsort(pts, n, sizeof(*pts), points_by_time);
    /* Audit times have whole seconds: spread the decisions of one second
     * evenly across it, in log order. */
    for (i = 0; i < n; i = j) {
        for (j = i; j < n && pts[j].ts == pts[i].ts; j++) {
        }
        for (k = i; k < j; k++) {
            pts[k].x = (double) pts[k].ts + (double) (k - i) / (double) (j - i);
        }
    }
    t0 = pts[0].x;
    t1 = pts[n - 1].x;
    if (t1 < t0 + 1) {
        t1 = t0 + 1;
    }
    for (i = 0; i < n; i++) {
        if (pts[i].trust < mintrust) {
            mintrust = pts[i].trust;
        }
        counts[pts[i].kind]++;
    }
    /* Bucket: keep each bucket's lowest-trust point (a denial on ties). */
    step = (n + SVG_MAX_POINTS - 1) / SVG_MAX_POINTS;
    for (i = 0; i < n; i += step) {
        k = i;
        for (j = i + 1; j < i + step && j < n; j++) {
            if (pts[j].trust < pts[k].trust
                || (pts[j].trust == pts[k].trust && pts[j].kind > pts[k].kind))
            {
                k = j;
            }
        }
        pts[kept++] = pts[k];
    }

#define X(t) (SVG_ML + pw * ((double) (t) - t0) / (t1 - t0))
#define Y(v) (SVG_MT + ph * (100.0 - (v)) / 100.0)

    sb_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
              SVG_W, SVG_H, SVG_W, SVG_H);
    sb_puts(b, "<title>AIM trust timeline: ");
    sb_text(b, agent, TEXT_XML);
    sb_puts(b, "</title>\n");
    sb_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_W, SVG_H);
    sb_puts(b, "<text x=\"20\" y=\"28\" font-size=\"16\" font-weight=\"bold\">"
           "Trust timeline of ");
    sb_text(b, agent, TEXT_XML);
    sb_puts(b, "</text>\n<text x=\"20\" y=\"48\" fill=\"#555555\">");
    sb_printf(b, "%zu decisions from %s to %s; lowest trust %.1f; source ", n,
              iso_time(pts[0].ts, when), iso_time(pts[kept - 1].ts, when2),
              mintrust);
    sb_text(b, source, TEXT_XML);
    if (kept < n) {
        sb_printf(b, " (%zu points drawn, the lowest of each bucket)", kept);
    }
    sb_puts(b, "</text>\n");

    /* Grid, y labels, axes. */
    for (i = 0; i <= 4; i++) {
        y = Y(25.0 * (double) i);
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#e0e0e0\"/>\n<text x=\"%d\" y=\"%.1f\" "
                  "text-anchor=\"end\">%zu</text>\n", SVG_ML, y, SVG_ML + pw, y,
                  SVG_ML - 8, y + 4, i * 25);
    }
    sb_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\" stroke=\"#000000\"/>\n"
              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n",
              SVG_ML, SVG_MT, SVG_ML, SVG_MT + ph, SVG_ML, SVG_MT + ph,
              SVG_ML + pw, SVG_MT + ph);
    sb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\" "
              "transform=\"rotate(-90 %d %.1f)\">trust (0-100)</text>\n",
              SVG_ML - 45, SVG_MT + ph / 2, SVG_ML - 45, SVG_MT + ph / 2);
    sb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">time (UTC)</text>\n",
              SVG_ML + pw / 2, SVG_H - 15);
    /* Ticks on round times, at most about 7 of them. */
    for (i = 0; i + 1 < sizeof(steps) / sizeof(steps[0])
                && (t1 - t0) / (double) steps[i] > 6; i++) {
    }
    step_s = steps[i];
    for (tick = ((int64_t) ceil(t0) + step_s - 1) / step_s * step_s;
         (double) tick <= t1; tick += step_s)
    {
        tt = (time_t) tick;
        gmtime_r(&tt, &tm);
        strftime(label, sizeof(label), t1 - t0 > 86400 ? "%m-%d %H:%M"
                 : step_s >= 60 ? "%H:%M" : "%H:%M:%S", &tm);
        x = X(tick);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#000000\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                  "text-anchor=\"middle\">%s</text>\n", x, SVG_MT + ph, x,
                  SVG_MT + ph + 5, x, SVG_MT + ph + 20, label);
    }

    /* The threshold. */
    y = Y((double) trust_min);
    sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c62828\" "
              "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
              "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c62828\">trust_min %lld</text>\n",
              SVG_ML, y, SVG_ML + pw, y, SVG_ML + pw + 6, y + 4,
              (long long) trust_min);

    /* The line, then the points with their tooltips. */
    sb_puts(b, "<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\" points=\"");
    for (i = 0; i < kept; i++) {
        sb_printf(b, "%s%.1f,%.1f", i > 0 ? " " : "", X(pts[i].x), Y(pts[i].trust));
    }
    sb_puts(b, "\"/>\n");
    for (i = 0; i < kept; i++) {
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s %s",
                  X(pts[i].x), Y(pts[i].trust), point_colour[pts[i].kind],
                  iso_time(pts[i].ts, when), pts[i].kind == 0 ? "allow" : "deny");
        if (pts[i].kind != 0 && pts[i].reason[0] != '\0') {
            sb_puts(b, " ");
            sb_text(b, pts[i].reason, TEXT_XML);
        }
        sb_printf(b, ", trust %.1f", pts[i].trust);
        if (pts[i].signal[0] != '\0') {
            sb_puts(b, ", signal ");
            sb_text(b, pts[i].signal, TEXT_XML);
        }
        sb_puts(b, "</title></circle>\n");
    }

    /* Legend, in a row above the plot. */
    for (i = 0, x = 20; i < 3; i++, x += 170) {
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"68\" r=\"4\" fill=\"%s\"/>\n"
                  "<text x=\"%.1f\" y=\"72\">%s (%d)</text>\n", x + 4,
                  point_colour[i], x + 12, point_label[i], counts[i]);
    }
    sb_printf(b, "<line x1=\"%.1f\" y1=\"68\" x2=\"%.1f\" y2=\"68\" stroke=\"#c62828\" "
              "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n<text x=\"%.1f\" y=\"72\">"
              "trust_min (below it: low_trust)</text>\n", x, x + 24, x + 30);
    sb_puts(b, "</svg>\n");
#undef X
#undef Y
}
