#ifndef REEL_CFFMPEG_SHIM_H
#define REEL_CFFMPEG_SHIM_H
// FFmpeg 5.1 (lavf 59; Debian: libavformat-dev, libavcodec-dev, libavutil-dev, libswscale-dev, libswresample-dev).
// The libraries are not linked: loader.c opens them on first use (reel_ffmpeg_load) and forwards each call.
// AVERROR(), AVERROR_EOF, AV_NOPTS_VALUE and AV_TIME_BASE_Q are macros Swift cannot import: wrapped here.
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/display.h>
#include <libavutil/channel_layout.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

static inline int reel_averror(int posixError) { return AVERROR(posixError); }
static inline int reel_averror_eof(void) { return AVERROR_EOF; }
static inline int reel_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int reel_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int64_t reel_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline AVRational reel_av_time_base_q(void) { return AV_TIME_BASE_Q; }
static inline int reel_av_time_base(void) { return AV_TIME_BASE; }
/// Opens FFmpeg's libraries once; NULL when they are loaded, else why they cannot be.
const char *reel_ffmpeg_load(void);
#endif
