# liverec's FATE tests (DESIGN.md section 4): sample-free; every input is made by the test itself
# from lavfi sources through native, bit-exact encoders (mpeg4 with FATE's ENC_OPTS, mp2fixed).
# Run them with: make fate-liverec

# The synthetic live input every liverec test starts from: 25 fps video with a keyframe every
# second and 48 kHz audio, muxed as FLV the way an RTMP origin delivers it. Pinning its packets here
# means a change in the input (not in a liverec muxer) shows up as its own failure.
LIVEREC_LAVFI = -f lavfi -i "testsrc2=size=320x240:rate=25:duration=3" \
                -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=3"
LIVEREC_ENC   = -threads 1 -idct simple -dct fastint -c:v mpeg4 -g 25 -c:a mp2fixed -b:a 64k

LIVEREC_INPUT_DEPS = LAVFI_INDEV TESTSRC2_FILTER SINE_FILTER MPEG4_ENCODER MP2FIXED_ENCODER

FATE_LIVEREC-$(call ALLYES, $(LIVEREC_INPUT_DEPS) FLV_MUXER FRAMECRC_MUXER) += fate-liverec-testinput
fate-liverec-testinput: CMD = framecrc $(LIVEREC_LAVFI) $(LIVEREC_ENC) -flags +bitexact -fflags +bitexact

# liverec_hls: each test is a function of tests/fate/liverec-hls.sh (lrhls_NAME)
LIVEREC_HLS_DEPS := $(LIVEREC_INPUT_DEPS) LIVEREC_HLS_MUXER MPEGTS_DEMUXER
LIVEREC_HLS_MPEG4 := single splice clock-back timeout final collision tsjump audio-only bad-state \
                     bad-options two-writers kill-resume
FATE_LIVEREC_HLS-$(call ALLYES, $(LIVEREC_HLS_DEPS)) += $(LIVEREC_HLS_MPEG4:%=fate-liverec-hls-%)
FATE_LIVEREC_HLS-$(call ALLYES, $(LIVEREC_HLS_DEPS) MOV_DEMUXER CONCAT_PROTOCOL) += fate-liverec-hls-fmp4
FATE_LIVEREC_HLS-$(call ALLYES, LAVFI_INDEV TESTSRC2_FILTER SINE_FILTER LIBX264_ENCODER ADPCM_SWF_ENCODER \
                                FLV_MUXER FLV_DEMUXER LIVEREC_HLS_MUXER MPEGTS_DEMUXER) += fate-liverec-hls-codec-change
FATE_LIVEREC_HLS := $(FATE_LIVEREC_HLS-yes)
$(FATE_LIVEREC_HLS): CMD = . $(SRC_PATH)/tests/fate/liverec-hls.sh; lrhls_$(subst -,_,$(@:fate-liverec-hls-%=%))

FATE_LIVEREC += $(FATE_LIVEREC-yes)
FATE_FFMPEG += $(FATE_LIVEREC)
FATE_FFMPEG_FFPROBE += $(FATE_LIVEREC_HLS)
fate-liverec: $(FATE_LIVEREC) $(FATE_LIVEREC_HLS)

# liverec_mp4, liverec_flv, liverec_aac: functions of tests/fate/liverec-seg.sh (lrseg_NAME)
LIVEREC_SEG_DEPS := $(LIVEREC_INPUT_DEPS) LIVEREC_MP4_MUXER MOV_DEMUXER
FATE_LIVEREC_SEG-$(call ALLYES, $(LIVEREC_SEG_DEPS)) += $(addprefix fate-liverec-seg-, mp4-cuts names recover errors)
FATE_LIVEREC_SEG-$(call ALLYES, LAVFI_INDEV TESTSRC2_FILTER SINE_FILTER FLV_ENCODER ADPCM_SWF_ENCODER \
                                LIVEREC_FLV_MUXER FLV_DEMUXER) += fate-liverec-seg-flv-cuts
FATE_LIVEREC_SEG-$(call ALLYES, LAVFI_INDEV TESTSRC2_FILTER SINE_FILTER ARESAMPLE_FILTER MPEG4_ENCODER AAC_ENCODER \
                                LIVEREC_AAC_MUXER AAC_DEMUXER) += fate-liverec-seg-aac-audio-only
FATE_LIVEREC_SEG := $(FATE_LIVEREC_SEG-yes)
$(FATE_LIVEREC_SEG): CMD = . $(SRC_PATH)/tests/fate/liverec-seg.sh; lrseg_$(subst -,_,$(@:fate-liverec-seg-%=%))
FATE_FFMPEG_FFPROBE += $(FATE_LIVEREC_SEG)
fate-liverec: $(FATE_LIVEREC_SEG)
